/**
 * safetensors files (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
 * JSON `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__":
 * {..}}`, then the tensor bytes (offsets are relative to the end of the header).
 *
 * Reading keeps one copy of each tensor at most: the header is read first, then each tensor's byte
 * range is read through a file handle straight into the Float32Array it becomes (F32), or into a
 * scratch buffer converted element by element (F16, BF16). A 600 MB checkpoint is never in memory
 * twice.
 */
import { UserError } from "../errors.ts";
import { openForReading, readExactly } from "./file.ts";
import { writeFileAtomic } from "./atomic.ts";

/** Bytes per element of every dtype the format defines. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The dtypes this reader converts to float32. */
const FLOAT_DTYPES = ["F32", "F16", "BF16"];

/** The safetensors reference implementation refuses headers above 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range of the data in the file. */
  begin: number;
  end: number;
}

/** A float32 tensor in memory: row-major data over `shape`. */
export interface Float32Tensor {
  shape: number[];
  data: Float32Array;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Parses and checks the JSON header against the data length. */
function parseHeader(
  json: string,
  path: string,
  dataStart: number,
  fileSize: number,
): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (error) {
    throw new UserError(
      `Cannot load ${path}: safetensors header is not valid JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new UserError(`Cannot load ${path}: safetensors header is not a JSON object`);
  }
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const where = `Cannot load ${path}: tensor "${name}"`;
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const dtype = info?.dtype;
    const shape = info?.shape;
    const offsets = info?.data_offsets;
    if (typeof dtype !== "string") throw new UserError(`${where} has no dtype`);
    const bytesPerElement = DTYPE_BYTES[dtype];
    if (bytesPerElement === undefined) {
      throw new UserError(`${where} has unknown dtype "${dtype}"`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      throw new UserError(`${where} has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt) ||
      offsets[0]! > offsets[1]!
    ) {
      throw new UserError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [relativeBegin, relativeEnd] = offsets as [number, number];
    const expectedBytes = elementCount(shape) * bytesPerElement;
    if (relativeEnd - relativeBegin !== expectedBytes) {
      throw new UserError(
        `${where}: data_offsets [${relativeBegin}, ${relativeEnd}] span ${
          relativeEnd - relativeBegin
        } bytes, shape [${shape.join(", ")}] ${dtype} needs ${expectedBytes}`,
      );
    }
    const begin = dataStart + relativeBegin;
    const end = dataStart + relativeEnd;
    if (end > fileSize) {
      throw new UserError(
        `${where}: data ends at byte ${end} but the file has ${fileSize} bytes (truncated file?)`,
      );
    }
    entries.set(name, { name, dtype, shape: shape as number[], begin, end });
  }
  return { entries, metadata };
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * An open safetensors file: its header is parsed and checked; tensors are read one at a time.
 * Close it when done (`using` works too).
 */
export class SafetensorsReader implements Disposable {
  readonly path: string;
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  #file: Deno.FsFile;

  private constructor(
    path: string,
    file: Deno.FsFile,
    header: { entries: Map<string, TensorEntry>; metadata: Record<string, string> },
  ) {
    this.path = path;
    this.#file = file;
    this.entries = header.entries;
    this.metadata = header.metadata;
  }

  /** Opens `path` and reads its header; errors name the file. */
  static async open(path: string): Promise<SafetensorsReader> {
    const file = await openForReading(path, "load");
    try {
      const fileSize = (await file.stat()).size;
      const lengthBytes = new Uint8Array(8);
      if (fileSize < 8 || !(await readExactly(file, lengthBytes, 0))) {
        throw new UserError(`Cannot load ${path}: not a safetensors file (shorter than 8 bytes)`);
      }
      const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(MAX_HEADER_BYTES) || headerLength < 2n) {
        throw new UserError(
          `Cannot load ${path}: not a safetensors file (header length ${headerLength})`,
        );
      }
      const dataStart = 8 + Number(headerLength);
      if (dataStart > fileSize) {
        throw new UserError(
          `Cannot load ${path}: truncated: the header needs ${headerLength} bytes, the file has ` +
            `${fileSize - 8} after the length`,
        );
      }
      const headerBytes = new Uint8Array(Number(headerLength));
      await readExactly(file, headerBytes, 8);
      if (headerBytes[0] !== 0x7b) { // "{"
        throw new UserError(`Cannot load ${path}: not a safetensors file (header is not JSON)`);
      }
      const json = new TextDecoder().decode(headerBytes);
      return new SafetensorsReader(path, file, parseHeader(json, path, dataStart, fileSize));
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Tensor names in file order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The entry of one tensor, or an error naming the file and tensor. */
  entry(name: string): TensorEntry {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new UserError(`Cannot load ${this.path}: tensor "${name}" is missing`);
    }
    return entry;
  }

  /** Reads one tensor as float32 (F32 as is; F16 and BF16 converted). */
  async readFloat32(name: string): Promise<Float32Tensor> {
    const entry = this.entry(name);
    if (!FLOAT_DTYPES.includes(entry.dtype)) {
      throw new UserError(
        `Cannot load ${this.path}: tensor "${name}" has dtype ${entry.dtype}, expected one of ` +
          FLOAT_DTYPES.join(", "),
      );
    }
    const count = elementCount(entry.shape);
    const data = new Float32Array(count);
    if (entry.dtype === "F32") {
      await this.#readRange(entry, new Uint8Array(data.buffer));
    } else {
      const raw = new Uint16Array(count);
      await this.#readRange(entry, new Uint8Array(raw.buffer));
      if (entry.dtype === "BF16") {
        // bfloat16 is the top half of a float32.
        const bits = new Uint32Array(data.buffer);
        for (let i = 0; i < count; i++) bits[i] = raw[i]! << 16;
      } else {
        for (let i = 0; i < count; i++) data[i] = halfToFloat(raw[i]!);
      }
    }
    return { shape: entry.shape, data };
  }

  async #readRange(entry: TensorEntry, into: Uint8Array): Promise<void> {
    if (!(await readExactly(this.#file, into, entry.begin))) {
      throw new UserError(`Cannot load ${this.path}: tensor "${entry.name}" is truncated`);
    }
  }

  close(): void {
    this.#file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Fills `into` from `position`; false when the file ends first. */
/** Reads every float tensor of a file. For large files prefer `SafetensorsReader`. */
export async function readSafetensors(path: string): Promise<Map<string, Float32Tensor>> {
  using reader = await SafetensorsReader.open(path);
  const tensors = new Map<string, Float32Tensor>();
  for (const name of reader.names()) tensors.set(name, await reader.readFloat32(name));
  return tensors;
}

/**
 * Writes float32 tensors as a safetensors file (F32), atomically. Tensor bytes are written from
 * the arrays themselves, not concatenated into one buffer first.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Float32Tensor> | Readonly<Record<string, Float32Tensor>>,
  options: { metadata?: Record<string, string> } = {},
): Promise<void> {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of list) {
    const count = elementCount(tensor.shape);
    if (tensor.data.length !== count) {
      throw new UserError(
        `Cannot write ${path}: tensor "${name}" has ${tensor.data.length} values, shape [${
          tensor.shape.join(", ")
        }] needs ${count}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: tensor.shape,
      data_offsets: [offset, offset + count * 4],
    };
    chunks.push(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    offset += count * 4;
  }
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const prefix = new Uint8Array(8 + headerLength).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerLength), true);
  prefix.set(json, 8);
  await writeFileAtomic(path, [prefix, ...chunks]);
}
