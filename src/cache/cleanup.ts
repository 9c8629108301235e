/**
 * What must not outlive this process if it is made to exit at once (a second Ctrl-C): temporary
 * artifact folders, the locks it holds, its run registration. Each is registered while it exists
 * and removed synchronously by `cleanUpNow()` just before such an exit; a normal end removes them
 * itself. A SIGKILL runs nothing: `cache gc` and the next run find those leftovers by their
 * owner's pid and host.
 */
const pending = new Set<() => void>();

/** Registers `remove` (synchronous, must not throw); returns the function that unregisters it. */
export function onAbruptExit(remove: () => void): () => void {
  pending.add(remove);
  return () => pending.delete(remove);
}

/** Runs and clears every registered removal. */
export function cleanUpNow(): void {
  for (const remove of [...pending]) {
    try {
      remove();
    } catch {
      // Best effort: whatever is left is found by `cache gc`.
    }
  }
  pending.clear();
}
