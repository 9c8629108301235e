/**
 * NumPy `.npy` files (format versions 1-3), C order, little-endian: float32, float64, int32,
 * int64 and uint8. The layout is documented in numpy/lib/format.py: magic `\x93NUMPY`, two version
 * bytes, a header length (uint16 for v1, uint32 for v2/v3), an ASCII Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (5, 48), }` padded so the data starts on a
 * 64-byte boundary, then the raw data.
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { openForReading, readExactly } from "./file.ts";

export type NpyDtype = "float32" | "float64" | "int32" | "int64" | "uint8";

interface NpyDataOf {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
}

/** An array as stored: `data` is the element type of `dtype`, row-major over `shape`. */
export type NpyArray = {
  [D in NpyDtype]: { dtype: D; shape: number[]; data: NpyDataOf[D] };
}[NpyDtype];

const DESCR_TO_DTYPE: Record<string, NpyDtype> = {
  "<f4": "float32",
  "<f8": "float64",
  "<i4": "int32",
  "<i8": "int64",
  "|u1": "uint8",
  "<u1": "uint8",
};

const DTYPE_TO_DESCR: Record<NpyDtype, string> = {
  float32: "<f4",
  float64: "<f8",
  int32: "<i4",
  int64: "<i8",
  uint8: "|u1",
};

const BYTES_PER_ELEMENT: Record<NpyDtype, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  uint8: 1,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function parseHeaderDict(
  header: string,
  source: string,
): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new UserError(`Cannot read ${source}: malformed .npy header ${JSON.stringify(header)}`);
  }
  const shape = shapeText.split(",").map((part) => part.trim()).filter((part) => part !== "")
    .map((part) => {
      const dim = Number(part.replace(/L$/, ""));
      if (!Number.isInteger(dim) || dim < 0) {
        throw new UserError(`Cannot read ${source}: bad shape (${shapeText}) in .npy header`);
      }
      return dim;
    });
  return { descr, fortranOrder: fortran === "True", shape };
}

/** What a `.npy` header says, and where the data starts. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataStart: number;
}

/**
 * The header of a `.npy` file from its first bytes: the whole header must be in `bytes` (a
 * v1 header is at most 65545 bytes). `source` names the file in error messages.
 */
export function parseNpyHeader(bytes: Uint8Array, source = "<bytes>"): NpyHeader {
  if (bytes.byteLength < 10 || MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new UserError(`Cannot read ${source}: not a .npy file (bad magic)`);
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new UserError(`Cannot read ${source}: truncated .npy header`);
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new UserError(`Cannot read ${source}: unsupported .npy format version ${major}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.byteLength) {
    throw new UserError(`Cannot read ${source}: truncated .npy header`);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, dataStart),
  );
  const { descr, fortranOrder, shape } = parseHeaderDict(header, source);
  const dtype = DESCR_TO_DTYPE[descr];
  if (dtype === undefined) {
    throw new UserError(
      `Cannot read ${source}: unsupported dtype '${descr}' (supported: ${
        Object.keys(DESCR_TO_DTYPE).join(", ")
      })`,
    );
  }
  if (fortranOrder && shape.length > 1) {
    throw new UserError(
      `Cannot read ${source}: Fortran-ordered arrays are not supported (save with ` +
        `np.ascontiguousarray)`,
    );
  }
  return { dtype, shape, dataStart };
}

/** Decodes the bytes of a `.npy` file. `source` names it in error messages. */
export function parseNpy(bytes: Uint8Array, source = "<bytes>"): NpyArray {
  const { dtype, shape, dataStart } = parseNpyHeader(bytes, source);
  const count = elementCount(shape);
  const byteLength = count * BYTES_PER_ELEMENT[dtype];
  if (dataStart + byteLength > bytes.byteLength) {
    throw new UserError(
      `Cannot read ${source}: truncated: shape [${shape.join(", ")}] ${dtype} needs ` +
        `${byteLength} data bytes, the file has ${bytes.byteLength - dataStart}`,
    );
  }
  // A copy into a fresh buffer: the data offset need not be aligned for the typed array.
  const buffer = bytes.slice(dataStart, dataStart + byteLength).buffer;
  switch (dtype) {
    case "float32":
      return { dtype, shape, data: new Float32Array(buffer) };
    case "float64":
      return { dtype, shape, data: new Float64Array(buffer) };
    case "int32":
      return { dtype, shape, data: new Int32Array(buffer) };
    case "int64":
      return { dtype, shape, data: new BigInt64Array(buffer) };
    case "uint8":
      return { dtype, shape, data: new Uint8Array(buffer) };
  }
}

/** Reads a `.npy` file: `{dtype, shape, data}`. int64 data comes back as a BigInt64Array. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
      throw new UserError(`Cannot read ${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return parseNpy(bytes, path);
}

/** The largest header `parseNpyHeader` may need: 12 bytes of preamble + a v1 length's maximum. */
const MAX_HEADER_BYTES = 12 + 0xffff;

/**
 * An open `.npy` file read by rows (slices along the first axis), so an array larger than memory
 * can be streamed. Close it when done (`using` works too).
 */
export class NpyRowReader implements Disposable {
  readonly path: string;
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** Bytes per row: the product of the other axes times the element size. */
  readonly rowBytes: number;
  #file: Deno.FsFile;
  #dataStart: number;
  /** The last read: reads seek the one file handle, so each waits for the one before. */
  #lastRead: Promise<unknown> = Promise.resolve();

  private constructor(path: string, file: Deno.FsFile, header: NpyHeader) {
    this.path = path;
    this.#file = file;
    this.dtype = header.dtype;
    this.shape = header.shape;
    this.#dataStart = header.dataStart;
    this.rowBytes = elementCount(header.shape.slice(1)) * BYTES_PER_ELEMENT[header.dtype];
  }

  /** Opens `path` and checks its header and its length against the shape. */
  static async open(path: string): Promise<NpyRowReader> {
    const file = await openForReading(path, "read");
    try {
      const size = (await file.stat()).size;
      const start = new Uint8Array(Math.min(size, MAX_HEADER_BYTES));
      await readExactly(file, start, 0);
      const header = parseNpyHeader(start, path);
      if (header.shape.length === 0) {
        throw new UserError(`Cannot read ${path} by rows: it holds a scalar`);
      }
      const byteLength = elementCount(header.shape) * BYTES_PER_ELEMENT[header.dtype];
      if (header.dataStart + byteLength > size) {
        throw new UserError(
          `Cannot read ${path}: truncated: shape [${header.shape.join(", ")}] ${header.dtype} ` +
            `needs ${byteLength} data bytes, the file has ${size - header.dataStart}`,
        );
      }
      return new NpyRowReader(path, file, header);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Rows `[start, end)` as raw little-endian bytes (the values themselves for uint8 data). */
  readRows(start: number, end: number): Promise<Uint8Array> {
    const rows = this.shape[0]!;
    if (
      !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end
    ) {
      throw new RangeError(`${this.path}: rows [${start}, ${end}) of ${rows}`);
    }
    const out = new Uint8Array((end - start) * this.rowBytes);
    const read = this.#lastRead.catch(() => {}).then(async () => {
      if (!(await readExactly(this.#file, out, this.#dataStart + start * this.rowBytes))) {
        throw new UserError(`Cannot read ${this.path}: the file ended before row ${end}`);
      }
      return out;
    });
    this.#lastRead = read;
    return read;
  }

  close(): void {
    this.#file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The `.npy` file bytes of an array as [header, data]: two chunks, so the data is not copied. */
export function encodeNpy(array: NpyArray): [Uint8Array, Uint8Array] {
  const count = elementCount(array.shape);
  if (array.data.length !== count) {
    throw new UserError(
      `Cannot encode .npy: shape [${array.shape.join(", ")}] needs ${count} elements, ` +
        `data has ${array.data.length}`,
    );
  }
  const shapeText = array.shape.length === 1 ? `${array.shape[0]},` : array.shape.join(", ");
  const dict = `{'descr': '${
    DTYPE_TO_DESCR[array.dtype]
  }', 'fortran_order': False, 'shape': (${shapeText}), }`;
  // magic (6) + version (2) + length (2) + dict + padding + "\n" is a multiple of 64.
  const unpadded = 10 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const headerText = dict + " ".repeat(padded - unpadded) + "\n";
  if (headerText.length > 0xffff) throw new UserError("Cannot encode .npy: header too long");
  const header = new Uint8Array(10 + headerText.length);
  header.set(MAGIC, 0);
  header[6] = 1;
  header[7] = 0;
  new DataView(header.buffer).setUint16(8, headerText.length, true);
  header.set(new TextEncoder().encode(headerText), 10);
  const data = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  return [header, data];
}

/** Writes a `.npy` file atomically (temp file + rename). */
export async function writeNpy(path: string, array: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(array));
}

/** The data as float32 (float32 as is, float64 narrowed); other dtypes are an error. */
export function npyToFloat32(array: NpyArray, source: string): Float32Array {
  if (array.dtype === "float32") return array.data;
  if (array.dtype === "float64") return Float32Array.from(array.data);
  throw new UserError(`${source}: expected float32 or float64 data, got ${array.dtype}`);
}

/**
 * The data as int32 (token ids, labels): int32 as is, uint8 widened, int64 narrowed with a range
 * check; float dtypes are an error.
 */
export function npyToInt32(array: NpyArray, source: string): Int32Array {
  switch (array.dtype) {
    case "int32":
      return array.data;
    case "uint8":
      return Int32Array.from(array.data);
    case "int64": {
      const out = new Int32Array(array.data.length);
      for (let i = 0; i < out.length; i++) {
        const value = array.data[i]!;
        if (value > 2147483647n || value < -2147483648n) {
          throw new UserError(`${source}: int64 value ${value} at index ${i} does not fit int32`);
        }
        out[i] = Number(value);
      }
      return out;
    }
    default:
      throw new UserError(`${source}: expected integer data, got ${array.dtype}`);
  }
}
