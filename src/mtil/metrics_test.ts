import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { UserError } from "../errors.ts";
import { readNpy } from "../io/npy.ts";
import { computeMetrics, metricsToJson, zeroShotMetrics } from "./metrics.ts";

/** A released ZSCL matrix (11 x 12 with CIFAR10 as column 2) as 11 x 11 in MTIL task order. */
async function releasedMatrix(file: string): Promise<number[][]> {
  const array = await readNpy(sharedPath(`mtil/zscl-results/${file}`)!);
  const values = Array.from(array.data as Float64Array);
  assert.equal(values.length, 132);
  return Array.from({ length: 11 }, (_, i) => {
    const row = values.slice(i * 12, (i + 1) * 12);
    row.splice(2, 1); // CIFAR10 is not an MTIL dataset
    return row;
  });
}

function assertClose(actual: readonly (number | null)[], expected: readonly number[], tol = 0.05) {
  const known = actual.filter((value): value is number => value !== null);
  assert.equal(known.length, expected.length);
  known.forEach((value, i) =>
    assert.ok(Math.abs(value - expected[i]!) <= tol, `index ${i}: ${value} vs ${expected[i]}`)
  );
}

Deno.test("computeMetrics() on a 3 x 3 matrix follows ZSCL's definitions cell by cell", () => {
  const acc = [
    [90, 40, 30],
    [80, 95, 35],
    [70, 85, 99],
  ];
  const metrics = computeMetrics(acc);
  // Transfer_j = mean over i < j: j=2 -> 40, j=3 -> (30 + 35) / 2
  assert.deepEqual(metrics.transfer.perDataset, [null, 40, 32.5]);
  assert.equal(metrics.transfer.mean, 36.25);
  assert.deepEqual(metrics.average.perDataset, [80, 220 / 3, 164 / 3]);
  assert.ok(Math.abs(metrics.average.mean - (240 + 220 + 164) / 9) < 1e-12);
  assert.deepEqual(metrics.last.perDataset, [70, 85, 99]);
  assert.equal(metrics.last.mean, 254 / 3);
});

Deno.test("computeMetrics() skips a zero-shot first row given zeroShotRow", () => {
  const withZeroShot = computeMetrics([[1, 2], [10, 20], [30, 40]], { zeroShotRow: true });
  assert.deepEqual(withZeroShot, computeMetrics([[10, 20], [30, 40]]));
});

Deno.test("zeroShotMetrics() reports the zero-shot accuracies in all three blocks", () => {
  const metrics = zeroShotMetrics([24.3, 88.4, 68.2]);
  assert.deepEqual(metrics.transfer.perDataset, [null, 88.4, 68.2]);
  assert.ok(Math.abs(metrics.transfer.mean - 78.3) < 1e-9);
  assert.ok(Math.abs(metrics.average.mean - 60.3) < 1e-9);
  assert.deepEqual(metrics.last.perDataset, [24.3, 88.4, 68.2]);
});

Deno.test("computeMetrics() rejects a non-square matrix naming the row", () => {
  assert.throws(
    () => computeMetrics([[1, 2], [3]], { source: "m.csv" }),
    (error: unknown) =>
      error instanceof UserError && /m\.csv: row 2 has 1 values, expected 2/.test(error.message),
  );
  assert.throws(
    () => computeMetrics([[1, NaN], [3, 4]], { source: "m.csv" }),
    /m\.csv: row 1, column 2 is not a finite number/,
  );
});

Deno.test(
  "ZSCL's released Continual-FT matrix gives the published 44.6 / 55.9 / 77.3 and per-dataset cells",
  needsShared("mtil/zscl-results/t3_1.npy"),
  async () => {
    const metrics = computeMetrics(await releasedMatrix("t3_1.npy"));
    assertClose([metrics.transfer.mean, metrics.average.mean, metrics.last.mean], [
      44.6,
      55.9,
      77.3,
    ]);
    assertClose(metrics.transfer.perDataset, [
      67.1,
      46.0,
      32.1,
      35.6,
      35.0,
      57.7,
      44.1,
      60.8,
      20.5,
      46.6,
    ]);
    assertClose(metrics.average.perDataset, [
      25.5,
      81.5,
      59.1,
      53.2,
      64.7,
      51.8,
      63.2,
      64.3,
      69.7,
      31.8,
      49.7,
    ]);
    assertClose(metrics.last.perDataset, [
      31.0,
      89.3,
      65.8,
      67.3,
      88.9,
      71.1,
      85.6,
      99.6,
      92.9,
      77.3,
      81.1,
    ]);
  },
);

Deno.test(
  "ZSCL's released LwF matrix gives the published 56.9 / 64.7 / 74.6",
  needsShared("mtil/zscl-results/t3_2.npy"),
  async () => {
    const json = metricsToJson(computeMetrics(await releasedMatrix("t3_2.npy")));
    assertClose([json.transfer.mean, json.average.mean, json.last.mean], [56.9, 64.7, 74.6]);
    assert.equal(json.transfer.per_dataset.length, 10);
    assert.equal(json.average.per_dataset.length, 11);
    assert.equal(json.last.per_dataset.length, 11);
  },
);
