/** Positioned reads of open files. */

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
