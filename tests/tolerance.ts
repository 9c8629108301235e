import assert from "node:assert/strict";

/** max |actual - expected| and max |expected| over the entries. */
function errorAndScale(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label = "lengths",
): { error: number; scale: number } {
  assert.equal(actual.length, expected.length, label);
  let error = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    error = Math.max(error, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { error, scale };
}

/** max |actual - expected| / max |expected|: the error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  const { error, scale } = errorAndScale(actual, expected);
  return error / scale;
}

/**
 * Every |actual - expected| within `tolerance` times the largest |expected| (the error relative
 * to the tensor's scale, as `relativeError`), so that entries near zero (e.g. after Adam's first
 * steps) are not held to a relative bound they cannot meet in float32. Empty arrays pass.
 */
export function assertCloseToScale(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { tolerance: number; label: string },
): void {
  const { tolerance, label } = options;
  const { error, scale } = errorAndScale(actual, expected, label);
  assert.ok(error <= tolerance * scale, `${label}: max difference ${error}, scale ${scale}`);
}
