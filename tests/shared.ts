/**
 * The shared reference data (`../shared/` beside the repository) is optional: tests that need it
 * call `sharedPath()` and skip when it returns null.
 */
import { fileURLToPath } from "node:url";

const SHARED_ROOT = fileURLToPath(new URL("../../shared/", import.meta.url));

/** Absolute path of `../shared/<relative>`, or null when it is absent. */
export function sharedPath(relative: string): string | null {
  const path = `${SHARED_ROOT}${relative}`;
  try {
    Deno.statSync(path);
    return path;
  } catch {
    return null;
  }
}

/** `Deno.test` options that skip a test when a shared fixture is missing. */
export function needsShared(relative: string): { ignore: boolean } {
  return { ignore: sharedPath(relative) === null };
}
