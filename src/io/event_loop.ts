/**
 * A turn of the event loop for long computations, and a check for interruptions at that turn.
 *
 * Signal listeners, timers and I/O callbacks run only between macrotasks; a loop whose every
 * `await` resolves at once (a tensor read on the cpu or wasm backend, a synchronous file scan)
 * never gives them one. Awaiting `yieldToEventLoop()` once per training step, evaluation batch or
 * few hundred files gives them one (about 1 ms), and first runs the interruption check installed
 * by the runner (runner/signals.ts), which reads a flag set by another thread: a signal is acted
 * on within one step even when the main thread's own signal delivery lags behind.
 */
let check: (() => void) | null = null;

/** Installs (or with null removes) the check `yieldToEventLoop` runs first. */
export function setInterruptCheck(next: (() => void) | null): void {
  check = next;
}

export function yieldToEventLoop(): Promise<void> {
  check?.();
  return new Promise((resume) => setTimeout(resume, 0));
}
