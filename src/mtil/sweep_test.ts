import assert from "node:assert/strict";
import { acrossSeedsMarkdown, groupAcrossSeeds } from "./sweep.ts";

const run = (method: string, seed: number, transfer: number) => ({
  point: { "method.name": method, "train.seed": seed },
  means: { transfer, average: transfer + 10, last: transfer + 20 },
});

Deno.test("groupAcrossSeeds() pools the runs that differ only in train.seed: mean and sample std", () => {
  const groups = groupAcrossSeeds([
    run("expert-pool", 1, 50),
    run("lora", 1, 40),
    run("expert-pool", 2, 52),
    run("lora", 2, 40),
    run("expert-pool", 3, 54),
    run("lora", 3, 40),
  ])!;
  assert.deepEqual(groups.map((g) => g.setting), ["method.name=expert-pool", "method.name=lora"]);
  assert.deepEqual(groups[0]!.seeds, [1, 2, 3]);
  assert.deepEqual(groups[0]!.stats.transfer, { mean: 52, std: 2 });
  assert.deepEqual(groups[0]!.stats.last, { mean: 72, std: 2 });
  assert.deepEqual(groups[1]!.stats.average, { mean: 50, std: 0 });
});

Deno.test("a sweep that does not vary the seed gets no across-seeds table", () => {
  assert.equal(groupAcrossSeeds([run("lora", 1, 40), run("expert-pool", 1, 50)]), null);
  assert.deepEqual(acrossSeedsMarkdown([{ point: { "method.name": "lora" }, means: {} }]), []);
});

Deno.test("acrossSeedsMarkdown() prints mean ± std per setting, a dash where a run lacks a metric", () => {
  const lines = acrossSeedsMarkdown([
    run("lora", 1, 40),
    { point: { "method.name": "lora", "train.seed": 2 }, means: { average: 51, last: 62 } },
  ]);
  assert.equal(lines.at(-1), "| method.name=lora | 1, 2 | – | 50.5 ± 0.7 | 61.0 ± 1.4 |");
});
