/**
 * The few-shot draw: one seeded shuffled pass over the train split, keeping the first `shots`
 * samples of each class as they come. The shuffle is `torch.randperm(n)` with a CPU generator
 * seeded `seed` (the same permutation PyTorch gives), so a draw is fixed by (split, shots, seed).
 * `shots = 0` means full-shot: every sample, in split order.
 */
import { torchRandperm } from "./splits.ts";
import type { DatasetSplit, Sample } from "./datasets/registry.ts";

export interface FewShotDraw {
  /** Samples per class; 0 keeps the whole split. */
  shots: number;
  seed: number;
}

/**
 * Indices into `split.samples` of the drawn samples, in draw order. A class with fewer than
 * `shots` samples contributes all it has.
 */
export function fewShotIndices(split: DatasetSplit, options: FewShotDraw): number[] {
  const { shots, seed } = options;
  if (!Number.isInteger(shots) || shots < 0) {
    throw new RangeError(`fewShotIndices: shots must be an integer >= 0, got ${shots}`);
  }
  const count = split.samples.length;
  if (shots === 0) return Array.from({ length: count }, (_, i) => i);
  const taken = new Array<number>(split.classNames.length).fill(0);
  let classesFull = 0;
  const drawn: number[] = [];
  for (const index of torchRandperm(count, seed)) {
    const label = split.samples[index]!.label;
    if (taken[label]! >= shots) continue;
    drawn.push(index);
    taken[label]! += 1;
    if (taken[label] === shots && ++classesFull === taken.length) break;
  }
  return drawn;
}

/** The drawn samples themselves (see `fewShotIndices`). */
export function drawFewShot(split: DatasetSplit, options: FewShotDraw): Sample[] {
  return fewShotIndices(split, options).map((index) => split.samples[index]!);
}
