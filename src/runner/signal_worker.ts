/**
 * The signal watcher (see signals.ts): a worker whose event loop is idle, so SIGINT and SIGTERM
 * are read the moment they arrive. It counts them in memory shared with the main thread, learns
 * from the main thread what to remove on an abrupt exit, and after the second signal gives the
 * main thread a second to exit by itself (130 / 143) before it removes those leftovers and kills
 * the process.
 */
/// <reference lib="deno.worker" />
import { type Leftover, removeLeftovers } from "../cache/cleanup.ts";

/** How long the main thread has to exit by itself after the second signal. */
const GRACE_MS = 1000;
const NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

let shared: Int32Array | null = null;
let leftovers: Leftover[] = [];

self.onmessage = (event: MessageEvent<{ shared?: Int32Array; leftovers?: Leftover[] }>) => {
  if (event.data.leftovers !== undefined) leftovers = event.data.leftovers;
  if (event.data.shared === undefined) return;
  shared = event.data.shared;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => received(name));
  }
  self.postMessage("ready");
};

function received(name: keyof typeof NUMBERS): void {
  if (shared === null) return;
  Atomics.store(shared, 1, NUMBERS[name]);
  if (Atomics.add(shared, 0, 1) + 1 < 2) return;
  setTimeout(() => {
    removeLeftovers(leftovers);
    Deno.kill(Deno.pid, "SIGKILL");
  }, GRACE_MS);
}
