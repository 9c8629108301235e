/**
 * MATLAB level-5 MAT-files (the format of Flowers102's imagelabels.mat / setid.mat and Stanford
 * Cars' devkit annotations): a 128-byte header, then tagged data elements, each optionally
 * zlib-compressed (miCOMPRESSED). The reader covers numeric, char, cell and struct arrays,
 * little-endian files only (every file these datasets ship); the writer the same subset.
 * Arrays keep MATLAB's column-major element order; for the row / column vectors these datasets
 * hold that is simply the element order.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { UserError } from "../errors.ts";

export type MatNumericClass =
  | "double"
  | "single"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64";

export type MatValue =
  | { kind: "numeric"; class: MatNumericClass; dims: number[]; data: number[] }
  | { kind: "char"; dims: number[]; text: string }
  | { kind: "cell"; dims: number[]; cells: MatValue[] }
  | { kind: "struct"; dims: number[]; fieldNames: string[]; elements: Map<string, MatValue>[] };

// Data types of tagged elements (miXXX) and array classes (mxXXX_CLASS) from the format spec.
const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
  UTF16: 17,
  UTF32: 18,
} as const;

const MX_CLASS_NAMES: Record<number, MatNumericClass | "cell" | "struct" | "char"> = {
  1: "cell",
  2: "struct",
  4: "char",
  6: "double",
  7: "single",
  8: "int8",
  9: "uint8",
  10: "int16",
  11: "uint16",
  12: "int32",
  13: "uint32",
  14: "int64",
  15: "uint64",
};

const MX_CLASS_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(MX_CLASS_NAMES).map(([code, name]) => [name, Number(code)]),
);

const NUMERIC_MI_TYPE: Record<MatNumericClass, number> = {
  double: MI.DOUBLE,
  single: MI.SINGLE,
  int8: MI.INT8,
  uint8: MI.UINT8,
  int16: MI.INT16,
  uint16: MI.UINT16,
  int32: MI.INT32,
  uint32: MI.UINT32,
  int64: MI.INT64,
  uint64: MI.UINT64,
};

const MI_SIZES: Record<number, number> = {
  [MI.INT8]: 1,
  [MI.UINT8]: 1,
  [MI.INT16]: 2,
  [MI.UINT16]: 2,
  [MI.INT32]: 4,
  [MI.UINT32]: 4,
  [MI.SINGLE]: 4,
  [MI.DOUBLE]: 8,
  [MI.INT64]: 8,
  [MI.UINT64]: 8,
  [MI.UTF8]: 1,
  [MI.UTF16]: 2,
  [MI.UTF32]: 4,
};

interface Element {
  type: number;
  body: Uint8Array;
}

class MatReader {
  constructor(readonly source: string) {}

  fail(reason: string): UserError {
    return new UserError(`Cannot read MAT-file ${this.source}: ${reason}`);
  }

  /** Splits `bytes` into tagged elements (8-byte tags, or 4-byte "small data element" tags). */
  *elements(bytes: Uint8Array): Generator<Element> {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset + 8 <= bytes.byteLength) {
      const first = view.getUint32(offset, true);
      if (first >>> 16 !== 0) {
        // Small data element: type and size packed into the first word, data in the second.
        const size = first >>> 16;
        yield { type: first & 0xffff, body: bytes.subarray(offset + 4, offset + 4 + size) };
        offset += 8;
        continue;
      }
      const size = view.getUint32(offset + 4, true);
      const start = offset + 8;
      if (start + size > bytes.byteLength) {
        throw this.fail(`element at byte ${offset} claims ${size} bytes past the end`);
      }
      yield { type: first, body: bytes.subarray(start, start + size) };
      // Compressed elements are not padded; every other element is padded to 8 bytes.
      offset = start + (first === MI.COMPRESSED ? size : Math.ceil(size / 8) * 8);
    }
  }

  /** Reads the top level: name -> value; compressed elements are inflated first. */
  variables(bytes: Uint8Array): Map<string, MatValue> {
    const out = new Map<string, MatValue>();
    for (const element of this.elements(bytes)) {
      let matrix = element;
      if (element.type === MI.COMPRESSED) {
        const inflated = new Uint8Array(inflateSync(element.body));
        const inner = this.elements(inflated).next();
        if (inner.done) throw this.fail("empty compressed element");
        matrix = inner.value;
      }
      if (matrix.type !== MI.MATRIX) continue;
      const { name, value } = this.matrix(matrix.body);
      out.set(name, value);
    }
    return out;
  }

  matrix(body: Uint8Array): { name: string; value: MatValue } {
    if (body.byteLength === 0) {
      return { name: "", value: { kind: "numeric", class: "double", dims: [0, 0], data: [] } };
    }
    const parts = this.elements(body);
    const flags = this.take(parts, "array flags");
    const classCode = flags.body[0]!;
    if (flags.body[1]! & 0x08) throw this.fail("complex arrays are not supported");
    const className = MX_CLASS_NAMES[classCode];
    if (className === undefined) throw this.fail(`array class ${classCode} is not supported`);
    const dims = this.numbers(this.take(parts, "dimensions"));
    const name = latin1(this.take(parts, "array name").body);
    const count = dims.reduce((a, b) => a * b, 1);
    if (className === "char") {
      const data = this.take(parts, `char data of "${name}"`);
      return { name, value: { kind: "char", dims, text: this.text(data) } };
    }
    if (className === "cell") {
      const cells: MatValue[] = [];
      for (let i = 0; i < count; i++) {
        cells.push(this.matrix(this.take(parts, `cell ${i} of "${name}"`).body).value);
      }
      return { name, value: { kind: "cell", dims, cells } };
    }
    if (className === "struct") {
      const fieldLength = this.numbers(this.take(parts, "field name length"))[0] ?? 0;
      const namesBody = this.take(parts, "field names").body;
      const fieldNames: string[] = [];
      for (let start = 0; start + fieldLength <= namesBody.byteLength; start += fieldLength) {
        fieldNames.push(
          latin1(namesBody.subarray(start, start + fieldLength)).replace(/\0.*$/s, ""),
        );
      }
      const elements: Map<string, MatValue>[] = [];
      for (let i = 0; i < count; i++) {
        const element = new Map<string, MatValue>();
        for (const field of fieldNames) {
          const part = this.take(parts, `field "${field}" of "${name}"[${i}]`);
          element.set(field, this.matrix(part.body).value);
        }
        elements.push(element);
      }
      return { name, value: { kind: "struct", dims, fieldNames, elements } };
    }
    const real = this.take(parts, `data of "${name}"`);
    return { name, value: { kind: "numeric", class: className, dims, data: this.numbers(real) } };
  }

  take(parts: Generator<Element>, what: string): Element {
    const next = parts.next();
    if (next.done) throw this.fail(`truncated array: missing ${what}`);
    return next.value;
  }

  numbers(element: Element): number[] {
    const { type, body } = element;
    const size = MI_SIZES[type];
    if (size === undefined || type === MI.UTF8 || type === MI.UTF16 || type === MI.UTF32) {
      throw this.fail(`data type ${type} is not numeric`);
    }
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const out: number[] = [];
    for (let offset = 0; offset + size <= body.byteLength; offset += size) {
      out.push(readNumber(view, offset, type));
    }
    return out;
  }

  text(element: Element): string {
    const { type, body } = element;
    if (type === MI.UTF8) return new TextDecoder().decode(body);
    if (type === MI.UINT8 || type === MI.INT8) return latin1(body);
    if (type === MI.UTF16 || type === MI.UINT16) return new TextDecoder("utf-16le").decode(body);
    return String.fromCodePoint(...this.numbers(element));
  }
}

function readNumber(view: DataView, offset: number, type: number): number {
  switch (type) {
    case MI.INT8:
      return view.getInt8(offset);
    case MI.UINT8:
      return view.getUint8(offset);
    case MI.INT16:
      return view.getInt16(offset, true);
    case MI.UINT16:
      return view.getUint16(offset, true);
    case MI.INT32:
      return view.getInt32(offset, true);
    case MI.UINT32:
      return view.getUint32(offset, true);
    case MI.SINGLE:
      return view.getFloat32(offset, true);
    case MI.DOUBLE:
      return view.getFloat64(offset, true);
    case MI.INT64:
      return Number(view.getBigInt64(offset, true));
    default:
      return Number(view.getBigUint64(offset, true));
  }
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += String.fromCharCode(byte);
  return out;
}

/** Parses MAT-file v5 bytes into its named variables; `source` names the file in errors. */
export function parseMat(bytes: Uint8Array, source: string): Map<string, MatValue> {
  const reader = new MatReader(source);
  if (bytes.byteLength < 128) throw reader.fail(`${bytes.byteLength} bytes is too short`);
  const version = bytes[124]! | (bytes[125]! << 8);
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian === "MI") throw reader.fail("big-endian MAT-files are not supported");
  if (endian !== "IM" || version !== 0x0100) {
    const header = latin1(bytes.subarray(0, 10));
    throw reader.fail(
      `not a MATLAB v5 MAT-file (header starts "${header}"; v7.3/HDF5 files are not supported)`,
    );
  }
  return reader.variables(bytes.subarray(128));
}

/** Reads a MAT-file; a missing file is a UserError naming it. */
export async function readMat(path: string): Promise<Map<string, MatValue>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new UserError(`Cannot read MAT-file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseMat(bytes, path);
}

/** The numbers of a numeric array, in column-major order; anything else is a UserError. */
export function matNumbers(value: MatValue | undefined, what: string): number[] {
  if (value?.kind !== "numeric") {
    throw new UserError(`${what}: expected a numeric array, found ${value?.kind ?? "nothing"}`);
  }
  return value.data;
}

/** The text of a char array (rows joined, as scipy's squeeze_me gives a 1 x N array). */
export function matString(value: MatValue | undefined, what: string): string {
  if (value?.kind !== "char") {
    throw new UserError(`${what}: expected a char array, found ${value?.kind ?? "nothing"}`);
  }
  return value.text;
}

// ---------------------------------------------------------------------------------------------
// Writer

/** Helpers that build values for `encodeMat`. */
export const mat = {
  /** A 1 x N row vector (MATLAB's shape for Flowers102's labels and set ids). */
  row(data: number[], numericClass: MatNumericClass = "double"): MatValue {
    return { kind: "numeric", class: numericClass, dims: [1, data.length], data };
  },
  scalar(value: number, numericClass: MatNumericClass = "double"): MatValue {
    return { kind: "numeric", class: numericClass, dims: [1, 1], data: [value] };
  },
  string(text: string): MatValue {
    return { kind: "char", dims: [1, text.length], text };
  },
  /** A 1 x N cell array. */
  cellRow(cells: MatValue[]): MatValue {
    return { kind: "cell", dims: [1, cells.length], cells };
  },
  /** A 1 x N struct array whose elements all have the given fields. */
  structRow(fieldNames: string[], elements: Map<string, MatValue>[]): MatValue {
    return { kind: "struct", dims: [1, elements.length], fieldNames, elements };
  },
};

class ByteSink {
  chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

function taggedElement(type: number, body: Uint8Array): Uint8Array {
  const padded = Math.ceil(body.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, body.byteLength, true);
  out.set(body, 8);
  return out;
}

function encodeNumbers(data: number[], type: number): Uint8Array {
  const size = MI_SIZES[type]!;
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  data.forEach((value, i) => {
    const offset = i * size;
    switch (type) {
      case MI.INT8:
        return view.setInt8(offset, value);
      case MI.UINT8:
        return view.setUint8(offset, value);
      case MI.INT16:
        return view.setInt16(offset, value, true);
      case MI.UINT16:
        return view.setUint16(offset, value, true);
      case MI.INT32:
        return view.setInt32(offset, value, true);
      case MI.UINT32:
        return view.setUint32(offset, value, true);
      case MI.SINGLE:
        return view.setFloat32(offset, value, true);
      case MI.DOUBLE:
        return view.setFloat64(offset, value, true);
      case MI.INT64:
        return view.setBigInt64(offset, BigInt(value), true);
      default:
        return view.setBigUint64(offset, BigInt(value), true);
    }
  });
  return out;
}

function encodeMatrix(name: string, value: MatValue): Uint8Array {
  const sink = new ByteSink();
  const classCode = MX_CLASS_CODES[value.kind === "numeric" ? value.class : value.kind]!;
  sink.push(taggedElement(MI.UINT32, encodeNumbers([classCode, 0], MI.UINT32)));
  sink.push(taggedElement(MI.INT32, encodeNumbers(value.dims, MI.INT32)));
  sink.push(taggedElement(MI.INT8, new TextEncoder().encode(name)));
  switch (value.kind) {
    case "numeric":
      sink.push(
        taggedElement(
          NUMERIC_MI_TYPE[value.class],
          encodeNumbers(value.data, NUMERIC_MI_TYPE[value.class]),
        ),
      );
      break;
    case "char": {
      // MATLAB stores chars as UTF-16 code units.
      const units = Array.from({ length: value.text.length }, (_, i) => value.text.charCodeAt(i));
      sink.push(taggedElement(MI.UINT16, encodeNumbers(units, MI.UINT16)));
      break;
    }
    case "cell":
      for (const cell of value.cells) sink.push(encodeMatrix("", cell));
      break;
    case "struct": {
      const fieldLength = Math.max(...value.fieldNames.map((f) => f.length + 1), 1);
      const padded = Math.ceil(fieldLength / 8) * 8;
      sink.push(taggedElement(MI.INT32, encodeNumbers([padded], MI.INT32)));
      const names = new Uint8Array(padded * value.fieldNames.length);
      value.fieldNames.forEach((field, i) =>
        names.set(new TextEncoder().encode(field), i * padded)
      );
      sink.push(taggedElement(MI.INT8, names));
      for (const element of value.elements) {
        for (const field of value.fieldNames) {
          const fieldValue = element.get(field);
          if (fieldValue === undefined) {
            throw new RangeError(`encodeMat: struct field "${field}" missing`);
          }
          sink.push(encodeMatrix("", fieldValue));
        }
      }
      break;
    }
  }
  return taggedElement(MI.MATRIX, sink.concat());
}

/**
 * Encodes named variables as a little-endian MATLAB v5 MAT-file. `compress` wraps every
 * variable in a zlib miCOMPRESSED element, as MATLAB's default `save` does.
 */
export function encodeMat(
  variables: Record<string, MatValue>,
  options: { compress?: boolean } = {},
): Uint8Array {
  const sink = new ByteSink();
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode("MATLAB 5.0 MAT-file, written by rankone"));
  header.fill(0, 116, 124);
  header.set([0x00, 0x01, 0x49, 0x4d], 124); // version 0x0100, "IM" = little-endian
  sink.push(header);
  for (const [name, value] of Object.entries(variables)) {
    const matrix = encodeMatrix(name, value);
    if (!options.compress) {
      sink.push(matrix);
      continue;
    }
    const compressed = new Uint8Array(deflateSync(matrix));
    const tag = new Uint8Array(8);
    const view = new DataView(tag.buffer);
    view.setUint32(0, MI.COMPRESSED, true);
    view.setUint32(4, compressed.byteLength, true);
    sink.push(tag);
    sink.push(compressed);
  }
  return sink.concat();
}
