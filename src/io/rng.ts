/**
 * A small seeded pseudo-random generator (mulberry32: 32-bit state, period 2^32) so that few-shot
 * sampling, augmentation and initialisation give the same numbers on every platform and backend.
 * Only 32-bit integer arithmetic (`Math.imul`, `>>>`) is used, which JavaScript defines exactly.
 * Not for cryptography.
 */
export class SeededRng {
  #state: number;

  /** `seed` is any integer (taken modulo 2^32); equal seeds give equal sequences. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`SeededRng: seed must be finite, got ${seed}`);
    this.#state = Math.trunc(seed) >>> 0;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float uniform in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A float uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.nextFloat();
  }

  /**
   * An integer uniform in [0, n), without modulo bias (rejection sampling). `n` must be an
   * integer in [1, 2^32].
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw new RangeError(`SeededRng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Largest multiple of n that fits in 2^32: draws at or above it would favour small values.
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const draw = this.nextUint32();
      if (draw < limit) return draw % n;
    }
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const held = items[i]!;
      items[i] = items[j]!;
      items[j] = held;
    }
    return items;
  }

  /** A new generator seeded from this one, for an independent stream (e.g. one per worker). */
  fork(): SeededRng {
    return new SeededRng(this.nextUint32());
  }
}
