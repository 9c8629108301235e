/**
 * SIGINT (Ctrl-C) and SIGTERM (`kill`, a scheduler's time limit) during a run. The first one
 * aborts the returned signal: the running job stops at its next check of ctx.signal (every
 * training step and evaluation batch checks it), its temporary output is removed, its lock
 * released, runJobs throws RunInterrupted and the CLI exits 130 (SIGINT) or 143 (SIGTERM). A
 * second one exits at once with that code, after removing (synchronously) the temporary folders,
 * locks and run registration this process holds.
 *
 * The signals are received by a small worker (signal_worker.ts), not by the main thread: a
 * runtime reads a pending signal when its event loop gets to it, which a busy main thread (a
 * training loop) does seconds late under load, while the worker's loop is idle. The worker
 * counts each signal in shared memory; the main thread reads the count at every
 * `yieldToEventLoop()` (each step and batch) and on a 50 ms timer when idle. If the main thread
 * does not exit within a second of the second signal (one long computation), the worker removes
 * the same leftovers and kills the process.
 */
import { cleanUpNow, watchLeftovers } from "../cache/cleanup.ts";
import { setInterruptCheck } from "../io/event_loop.ts";
import { Interruption } from "./errors.ts";

export interface Interrupt {
  signal: AbortSignal;
  /** Resolves once the watcher listens (before that a signal ends the process by default). */
  ready: Promise<void>;
  dispose(): void;
}

/** Signal numbers, as the worker writes them to shared memory. */
const SIGNAL_OF_NUMBER = { 2: "SIGINT", 15: "SIGTERM" } as const;

export function interruptOnSignals(
  options: { onFirst?: (interruption: Interruption) => void } = {},
): Interrupt {
  const controller = new AbortController();
  // [signals received, number of the last one]
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const watcher = new Worker(new URL("./signal_worker.ts", import.meta.url), { type: "module" });
  const ready = new Promise<void>((resolve) => {
    watcher.onmessage = () => resolve();
  });
  watcher.postMessage({ shared });
  const stopWatching = watchLeftovers((leftovers) => watcher.postMessage({ leftovers }));
  let handled = 0;
  const check = () => {
    while (handled < Atomics.load(shared, 0)) {
      handled++;
      const number = Atomics.load(shared, 1) as keyof typeof SIGNAL_OF_NUMBER;
      const interruption = new Interruption(SIGNAL_OF_NUMBER[number] ?? "SIGINT");
      if (controller.signal.aborted) {
        cleanUpNow();
        Deno.exit(interruption.exitCode);
      }
      options.onFirst?.(interruption);
      controller.abort(interruption);
    }
  };
  setInterruptCheck(check);
  const timer = setInterval(check, 50);
  Deno.unrefTimer(timer);
  return {
    signal: controller.signal,
    ready,
    dispose: () => {
      clearInterval(timer);
      setInterruptCheck(null);
      stopWatching();
      watcher.terminate();
    },
  };
}
