/** Opening files for reading, and positioned reads. */
import { UserError } from "../errors.ts";

/**
 * Opens `path` for reading; a missing or unreadable file is a UserError
 * `Cannot <verb> <path>: <reason>`.
 */
export async function openForReading(path: string, verb: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`Cannot ${verb} ${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Fills `into` from `file` at byte `position`; false when the file ends first (a truncated file).
 */
export async function readExactly(
  file: Deno.FsFile,
  into: Uint8Array,
  position: number,
): Promise<boolean> {
  await file.seek(position, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < into.byteLength) {
    const read = await file.read(into.subarray(filled));
    if (read === null || read === 0) return false;
    filled += read;
  }
  return true;
}
