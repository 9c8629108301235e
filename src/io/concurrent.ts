/**
 * A bounded pool of async tasks: decoding many images at once keeps sharp's own threads busy while
 * JavaScript resizes the previous ones, but an unbounded `Promise.all` would hold every decoded
 * image of a split in memory at once.
 */

export interface ConcurrencyOptions {
  /** Tasks in flight at once (at least 1). */
  concurrency: number;
  /** Checked before each task starts: an abort stops new tasks, like a failure. */
  signal?: AbortSignal;
}

/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight, starting them in index order. The
 * first failure (or an abort) stops new tasks and is rethrown once those in flight have settled,
 * so nothing is still writing into the caller's buffers when it sees the error.
 */
export async function forEachConcurrent(
  count: number,
  task: (index: number) => Promise<void>,
  options: ConcurrencyOptions,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      options.signal?.throwIfAborted();
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency, count)) }, worker);
  const results = await Promise.allSettled(workers);
  const rejected = results.find((result) => result.status === "rejected");
  if (rejected !== undefined) throw (rejected as PromiseRejectedResult).reason;
}
