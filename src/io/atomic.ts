/**
 * Results are never written in place: a reader (or a crash) must see either the old file or the
 * whole new one. Bytes go to a temp name in the same folder (same filesystem, so the rename is
 * atomic) and are renamed over the target.
 */
import { UserError } from "../errors.ts";

function tempNameFor(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : path.slice(0, slash);
  const base = path.slice(slash + 1);
  const nonce = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${dir}/.${base}.tmp-${Deno.pid}-${nonce}`;
}

/**
 * Writes `chunks` (in order) to `path` through a temp file + rename. Several chunks let a caller
 * write a header and large tensor buffers without concatenating them into one copy.
 */
export async function writeFileAtomic(
  path: string,
  chunks: Uint8Array | readonly Uint8Array[],
): Promise<void> {
  const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
  const temp = tempNameFor(path);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      for (const part of parts) {
        let written = 0;
        while (written < part.byteLength) {
          written += await file.write(part.subarray(written));
        }
      }
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`Cannot write ${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
