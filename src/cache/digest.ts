/** SHA-256 digests as lower-case hex, of bytes, strings (UTF-8) and files (streamed). */
import { createHash } from "node:crypto";

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** SHA-256 of a file's bytes, read in chunks so large weight files never sit in memory whole. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  let size = 0;
  try {
    while (true) {
      const read = await file.read(buffer);
      if (read === null) break;
      hash.update(buffer.subarray(0, read));
      size += read;
    }
  } finally {
    file.close();
  }
  return { sha256: hash.digest("hex"), size };
}
