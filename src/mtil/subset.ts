/**
 * The test-image limit of quick runs (`benchmark.test_limit`): which images of a split to keep
 * when not all are evaluated. Deterministic and class-balanced, so a limited run is repeatable;
 * its numbers are still not comparable to full-split ones.
 */
import { UserError } from "../errors.ts";

/**
 * A deterministic, class-balanced subset of at most `limit` samples, as positions in split order
 * (ascending). Classes are visited round-robin in label order, each round taking every class's
 * next sample in split order, until `limit` are taken: per-class counts differ by at most one
 * (lower labels get the extra image) unless a class runs out of samples.
 */
export function balancedSubset(labels: ArrayLike<number>, limit: number): Int32Array {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UserError(`The image limit must be a positive integer, got ${limit}`);
  }
  if (limit >= labels.length) return Int32Array.from({ length: labels.length }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let index = 0; index < labels.length; index++) {
    const label = labels[index]!;
    const members = byClass.get(label);
    if (members === undefined) byClass.set(label, [index]);
    else members.push(index);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++) {
    for (const label of classes) {
      const index = byClass.get(label)![round];
      if (index === undefined) continue;
      chosen.push(index);
      if (chosen.length === limit) break;
    }
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}
