/**
 * The IDX format MNIST ships in (LeCun's "SN3 Pascal Vincent" files): a big-endian magic
 * `0x0000 <type> <rank>`, `rank` big-endian uint32 dimensions, then the values, big-endian.
 */
import { UserError } from "../errors.ts";

export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPE_CODES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: "uint8", bytes: 1 },
  0x09: { dtype: "int8", bytes: 1 },
  0x0b: { dtype: "int16", bytes: 2 },
  0x0c: { dtype: "int32", bytes: 4 },
  0x0d: { dtype: "float32", bytes: 4 },
  0x0e: { dtype: "float64", bytes: 8 },
};

/** Parses IDX bytes; `source` names the file in error messages. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  const fail = (reason: string) => new UserError(`Cannot read IDX file ${source}: ${reason}`);
  if (bytes.byteLength < 4) throw fail(`${bytes.byteLength} bytes is too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const typeCode = bytes[2]!;
  const rank = bytes[3]!;
  const type = TYPE_CODES[typeCode];
  if (view.getUint16(0) !== 0 || type === undefined || rank < 1) {
    const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw fail(`bad magic number 0x${magic} (expected 0x0000 <type 08-0e> <rank>)`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.byteLength < headerBytes) throw fail(`header for rank ${rank} is truncated`);
  const shape: number[] = [];
  for (let axis = 0; axis < rank; axis++) shape.push(view.getUint32(4 + 4 * axis));
  const count = shape.reduce((a, b) => a * b, 1);
  const expectedBytes = headerBytes + count * type.bytes;
  if (bytes.byteLength < expectedBytes) {
    throw fail(
      `shape [${shape.join(", ")}] needs ${expectedBytes} bytes, the file has ${bytes.byteLength}`,
    );
  }
  return { dtype: type.dtype, shape, data: decodeValues(view, headerBytes, count, type.dtype) };
}

function decodeValues(
  view: DataView,
  offset: number,
  count: number,
  dtype: IdxDtype,
): IdxArray["data"] {
  switch (dtype) {
    case "uint8":
      return new Uint8Array(
        view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count),
      );
    case "int8":
      return new Int8Array(
        view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count),
      );
    case "int16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i);
      return out;
    }
    case "int32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i);
      return out;
    }
    case "float32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i);
      return out;
    }
    case "float64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i);
      return out;
    }
  }
}

/** Reads an IDX file; a missing file is a UserError naming it. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new UserError(`Cannot read IDX file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseIdx(bytes, path);
}

/** Encodes uint8 values of the given shape as IDX bytes (type 0x08), as MNIST stores them. */
export function encodeIdxUint8(data: Uint8Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
      `encodeIdxUint8: shape [${shape}] holds ${count} values, got ${data.length}`,
    );
  }
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((size, axis) => view.setUint32(4 + 4 * axis, size));
  out.set(data, headerBytes);
  return out;
}
