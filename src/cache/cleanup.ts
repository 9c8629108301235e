/**
 * What must not outlive this process if it is made to exit at once (a second Ctrl-C): temporary
 * artifact folders, the locks it holds, its run registration. Each is registered while it exists
 * and removed synchronously by `cleanUpNow()` just before such an exit; a normal end removes them
 * itself. The registrations are plain data, so the signal watcher (a worker, see
 * runner/signals.ts) can remove them too when the main thread is stuck in a long computation.
 * A SIGKILL runs nothing: `cache gc` and the next run find those leftovers by their owner's pid
 * and host.
 */

export type Leftover =
  /** A folder (or file) removed with everything in it. */
  | { kind: "tree"; path: string }
  /** A lock or registration file, removed only while it still names this holder. */
  | { kind: "owned"; path: string; nonce: string };

const pending = new Set<Leftover>();
const watchers = new Set<(leftovers: Leftover[]) => void>();

function changed(): void {
  const now = [...pending];
  for (const watch of watchers) watch(now);
}

/** Registers a leftover to remove on an abrupt exit; returns the function that unregisters it. */
export function onAbruptExit(leftover: Leftover): () => void {
  pending.add(leftover);
  changed();
  return () => {
    if (pending.delete(leftover)) changed();
  };
}

/** Calls `watch` with the current registrations now and after every change; returns `stop`. */
export function watchLeftovers(watch: (leftovers: Leftover[]) => void): () => void {
  watchers.add(watch);
  watch([...pending]);
  return () => watchers.delete(watch);
}

/** Removes every registered leftover now (synchronously) and forgets them. */
export function cleanUpNow(): void {
  removeLeftovers([...pending]);
  pending.clear();
}

/** Removes `leftovers` synchronously; best effort (what is left, `cache gc` finds). */
export function removeLeftovers(leftovers: readonly Leftover[]): void {
  for (const leftover of leftovers) {
    try {
      if (leftover.kind === "tree") {
        Deno.removeSync(leftover.path, { recursive: true });
      } else if (Deno.readTextFileSync(leftover.path).includes(leftover.nonce)) {
        Deno.removeSync(leftover.path);
      }
    } catch {
      // Already gone, or not ours any more.
    }
  }
}
