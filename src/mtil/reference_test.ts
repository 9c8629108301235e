import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { order } from "./benchmark.ts";
import {
  hasFigures,
  loadReference,
  parseReference,
  referenceGroup,
  referenceRow,
} from "./reference.ts";

Deno.test("the repository's reference file holds the published full-shot Order I figures", async () => {
  const file = await loadReference();
  assert.equal(file.defaultGroup, "paper-5shot-order-I");
  const group = referenceGroup(file, "full-shot-order-I");
  assert.equal(group.order, "I");
  const zscl = referenceRow(group, "ZSCL");
  assert.deepEqual([zscl.transfer.mean, zscl.average.mean, zscl.last.mean], [68.1, 75.4, 83.6]);
  const zeroShot = referenceRow(group, "Zero-shot");
  assert.equal(zeroShot.average.perDataset.Aircraft, 24.3);
  assert.equal(zeroShot.transfer.perDataset.Aircraft, undefined); // first task: no Transfer
  const zeroShotAverage = order("I").tasks.map((name) => zeroShot.average.perDataset[name]!);
  assert.ok(Math.abs(zeroShotAverage.reduce((a, b) => a + b, 0) / 11 - 65.3) < 0.05);
  const ft = referenceRow(group, "Continual-FT");
  assert.equal(ft.last.perDataset.MNIST, 99.6);
  assert.equal(Object.keys(ft.transfer.perDataset).length, 10);
  // The paper's Table 1 slot is there and empty until the user fills it.
  const paper = referenceRow(referenceGroup(file), "DAC (paper)");
  assert.equal(hasFigures(paper), false);
});

Deno.test("parseReference() names file:line:column of a bad cell", () => {
  const text = [
    "groups:",
    "  g:",
    "    rows:",
    "      - name: a",
    "        last: { mean: 1, per_dataset: { Imagenet: 3 } }",
    "",
  ].join("\n");
  assert.throws(
    () => parseReference(text, "ref.yaml"),
    (error: unknown) =>
      error instanceof UserError &&
      /^ref\.yaml:4:9: last\.per_dataset names unknown dataset "Imagenet"/.test(error.message),
  );
  assert.throws(
    () => parseReference("groups: [1\n", "ref.yaml"),
    /Cannot read ref\.yaml:2:1: Flow sequence .* end with a \]$/,
  );
  assert.throws(
    () =>
      referenceRow(referenceGroup(parseReference("groups:\n  g:\n    rows: []\n", "r"), "g"), "x"),
    /group "g" has no row "x"/,
  );
});
