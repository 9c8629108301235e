import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { order } from "./benchmark.ts";
import {
  efficiencyReference,
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

Deno.test("the reference file holds the paper's Table 2: DAC 18.99 MB, 9,490 MB, 1.84 / 2.98 it/s on an RTX A6000, beside ZSCL and MoE-Adapters", async () => {
  const file = await loadReference();
  const paper = referenceGroup(file, "paper-5shot-order-I");
  const rows = Object.fromEntries(paper.efficiency!.rows.map((row) => [row.name, row]));
  assert.deepEqual(rows["DAC (paper)"], {
    name: "DAC (paper)",
    source: null,
    device: "NVIDIA RTX A6000",
    trainableMb: 18.99,
    peakMemoryMb: 9490,
    trainItPerSecond: 1.84,
    inferenceItPerSecond: 2.98,
  });
  const zscl = rows["ZSCL (paper)"]!;
  assert.deepEqual([zscl.trainableMb, zscl.peakMemoryMb, zscl.trainItPerSecond], [
    570.76,
    28454,
    null,
  ]);
  const moe = rows["MoE-Adapters (paper)"]!;
  assert.deepEqual([moe.trainableMb, moe.trainItPerSecond, moe.inferenceItPerSecond], [
    null,
    0.78,
    1.04,
  ]);
  // "96.7% fewer than full fine-tuning".
  assert.equal((100 * (1 - 18.99 / 570.76)).toFixed(1), "96.7");
  // A full-shot run sees the paper's figures too: its group has none of its own.
  const fullShot = referenceGroup(file, "full-shot-order-I");
  assert.equal(fullShot.efficiency, null);
  assert.equal(efficiencyReference(file, fullShot)?.group, "paper-5shot-order-I");
});

Deno.test("parseReference(): an efficiency row with an unknown key or a negative figure names file:line:column", () => {
  const text = (row: string) =>
    [
      "groups:",
      "  g:",
      "    rows: []",
      "    efficiency:",
      "      device: GPU",
      "      rows:",
      row,
      "",
    ]
      .join("\n");
  assert.throws(
    () => parseReference(text("        - { name: a, peak_mem_mb: 3 }"), "ref.yaml"),
    /ref\.yaml:7:11: efficiency row "a" has unknown key "peak_mem_mb" \(known: .*peak_memory_mb/,
  );
  assert.throws(
    () => parseReference(text("        - { name: a, train_it_per_s: -1 }"), "ref.yaml"),
    /ref\.yaml:7:11: train_it_per_s of "a" must be a non-negative number/,
  );
  const file = parseReference(text("        - { name: a, device: TPU, trainable_mb: 2 }"), "r");
  assert.deepEqual(file.groups[0]!.efficiency!.rows[0]!.device, "TPU");
  assert.equal(efficiencyReference(parseReference("groups:\n  g:\n    rows: []\n", "r")), null);
});
