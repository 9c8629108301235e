/**
 * The MTIL train / test splits. Most datasets ship official splits; Caltech101, EuroSAT and SUN397
 * do not, and the benchmark code splits them with PyTorch's
 * `random_split(ds, [int(0.8 n), n - int(0.8 n)], generator=torch.Generator().manual_seed(42))`.
 * That call is `torch.randperm(n, generator)`: the first int(0.8 n) indices are the train set.
 * Reproducing the membership exactly needs the same permutation, so this module reimplements
 * PyTorch's CPU generator (mt19937) and its CPU randperm (Fisher-Yates driven by 32-bit draws).
 */

const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/**
 * The 32-bit Mersenne Twister as PyTorch's CPU generator seeds it (`at::mt19937`): the seed's low
 * 32 bits go through the standard `init_genrand` recurrence; draws are the standard tempered
 * outputs, so seed 42 gives the same stream as C++ `std::mt19937(42)`.
 */
export class Mt19937 {
  readonly #state = new Uint32Array(STATE_SIZE);
  #next = STATE_SIZE;

  constructor(seed: number) {
    this.#state[0] = seed >>> 0;
    for (let j = 1; j < STATE_SIZE; j++) {
      const previous = this.#state[j - 1]!;
      this.#state[j] = (Math.imul(1812433253, previous ^ (previous >>> 30)) + j) >>> 0;
    }
  }

  /** The next 32-bit draw, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.#next >= STATE_SIZE) this.#twist();
    let y = this.#state[this.#next++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  #twist(): void {
    const state = this.#state;
    for (let i = 0; i < STATE_SIZE; i++) {
      const mixed = (state[i]! & UPPER_MASK) | (state[(i + 1) % STATE_SIZE]! & LOWER_MASK);
      const shifted = mixed >>> 1;
      state[i] = state[(i + SHIFT_SIZE) % STATE_SIZE]! ^ (mixed & 1 ? shifted ^ MATRIX_A : shifted);
    }
    this.#next = 0;
  }
}

/**
 * `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` on the CPU, as PyTorch 1.13
 * computes it (and later versions for n < 2^32 / 20): start from 0..n-1, then for i = 0..n-2
 * swap element i with element i + (draw mod (n - i)), each draw one 32-bit mt19937 output.
 */
export function torchRandperm(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n >= 0xffffffff / 20) {
    throw new RangeError(`torchRandperm: n must be an integer in [0, 2^32 / 20), got ${n}`);
  }
  const generator = new Mt19937(seed);
  const permutation = new Int32Array(n);
  for (let i = 0; i < n; i++) permutation[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const offset = generator.nextUint32() % (n - i);
    const saved = permutation[i]!;
    permutation[i] = permutation[i + offset]!;
    permutation[i + offset] = saved;
  }
  return permutation;
}

/** The seed and train fraction the MTIL benchmark code uses for its random splits. */
export const RANDOM_SPLIT_SEED = 42;
export const RANDOM_SPLIT_TRAIN_FRACTION = 0.8;

export interface RandomSplitIndices {
  /** Indices into the dataset (in its file order), in permutation order. */
  train: Int32Array;
  test: Int32Array;
}

/**
 * The 80/20 split of a dataset of `n` samples: `int(0.8 n)` train indices, the rest test, both
 * in the order `random_split` yields them (permutation order, not sorted).
 */
export function randomSplitIndices(
  n: number,
  options: { seed?: number; trainFraction?: number } = {},
): RandomSplitIndices {
  const seed = options.seed ?? RANDOM_SPLIT_SEED;
  const fraction = options.trainFraction ?? RANDOM_SPLIT_TRAIN_FRACTION;
  const permutation = torchRandperm(n, seed);
  // Python's int(0.8 * n) truncates the float product; Math.trunc matches it bit for bit.
  const trainSize = Math.trunc(fraction * n);
  return { train: permutation.slice(0, trainSize), test: permutation.slice(trainSize) };
}
