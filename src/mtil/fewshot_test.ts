import assert from "node:assert/strict";
import { drawFewShot, fewShotIndices } from "./fewshot.ts";
import { torchRandperm } from "./splits.ts";
import type { DatasetSplit } from "./datasets/registry.ts";

function fakeSplit(labels: number[], classCount: number): DatasetSplit {
  return {
    dataset: "Food",
    split: "train",
    root: "/data",
    classNames: Array.from({ length: classCount }, (_, i) => `class ${i}`),
    samples: labels.map((label, i) => ({ kind: "file", path: `img/${i}.jpg`, label })),
  };
}

Deno.test("fewShotIndices keeps the first `shots` per class in randperm(n, seed) order", () => {
  const labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
  const split = fakeSplit(labels, 3);
  const drawn = fewShotIndices(split, { shots: 2, seed: 7 });
  const expected: number[] = [];
  const taken = [0, 0, 0];
  for (const index of torchRandperm(12, 7)) {
    if (taken[labels[index]!]! < 2) {
      expected.push(index);
      taken[labels[index]!]! += 1;
    }
  }
  assert.deepEqual(drawn, expected);
  assert.equal(drawn.length, 6);
  assert.deepEqual([0, 1, 2].map((c) => drawn.filter((i) => labels[i] === c).length), [2, 2, 2]);
});

Deno.test("the few-shot draw is fixed by the seed and changes with it", () => {
  const split = fakeSplit(Array.from({ length: 100 }, (_, i) => i % 5), 5);
  const a = fewShotIndices(split, { shots: 5, seed: 42 });
  assert.deepEqual(fewShotIndices(split, { shots: 5, seed: 42 }), a);
  assert.notDeepEqual(fewShotIndices(split, { shots: 5, seed: 43 }), a);
  assert.deepEqual(drawFewShot(split, { shots: 5, seed: 42 }), a.map((i) => split.samples[i]));
});

Deno.test("shots = 0 is full-shot (every sample, split order); a small class gives all it has", () => {
  const split = fakeSplit([0, 1, 1, 1, 1], 2);
  assert.deepEqual(fewShotIndices(split, { shots: 0, seed: 1 }), [0, 1, 2, 3, 4]);
  const drawn = fewShotIndices(split, { shots: 3, seed: 1 });
  assert.equal(drawn.length, 4);
  assert.ok(drawn.includes(0));
  assert.throws(
    () => fewShotIndices(split, { shots: -1, seed: 1 }),
    /shots must be an integer >= 0/,
  );
});
