/**
 * A minimal Python pickle reader and writer, enough for the CIFAR-100 "python version" files
 * (`cifar-100-python/{train,test,meta}`: dicts of lists, strings and one uint8 numpy array,
 * written by Python 2 with protocol 2). The reader runs the pickle virtual machine over the
 * opcodes plain data uses (protocols 2-5 fully, the text opcodes of 0-1 in part); it builds no Python objects except numpy arrays
 * and dtypes, which it recognises by their reconstructor globals. Unknown globals become inert
 * `PyObject`s so data around them still loads.
 */
import { UserError } from "../errors.ts";

/** A Python 2 `str` (or Python 3 `bytes`): raw bytes; `pyText` decodes it as latin-1. */
export class PyBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** A numpy ndarray: dtype descriptor like "u1" or "<i8", C-order shape and the raw bytes. */
export class NdArray {
  dtype = "";
  shape: number[] = [];
  fortranOrder = false;
  data: Uint8Array = new Uint8Array(0);
}

/** A Python tuple (kept apart from lists so that `shape` tuples read back as tuples). */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** Any other object: its class global, constructor arguments and `__setstate__` state. */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly global: string, readonly args: unknown[]) {}
}

class NumpyDtype {
  constructor(public descr: string) {}
}

/** The text of a Python str or latin-1-decoded bytes (how `encoding="latin1"` loads Py2 strs). */
export function pyText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof PyBytes) return latin1(value.bytes);
  return undefined;
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

function fromLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function decodeLong(bytes: Uint8Array): number {
  // Little-endian two's complement of arbitrary length.
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes.length > 0 && bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return Number(value);
}

/**
 * Loads one pickle. Dicts become `Map`s (Py2 str keys decoded as latin-1 strings), lists arrays,
 * tuples `PyTuple`, str `string`, bytes / Py2 str `PyBytes`, numbers `number`, None `null`.
 */
export function parsePickle(bytes: Uint8Array, source: string): unknown {
  const fail = (reason: string, at: number) =>
    new UserError(`Cannot read pickle ${source}: ${reason} (at byte ${at})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let position = 0;

  const need = (count: number) => {
    if (position + count > bytes.byteLength) throw fail("unexpected end of data", position);
  };
  const readBytes = (count: number) => {
    need(count);
    const out = bytes.subarray(position, position + count);
    position += count;
    return out;
  };
  const readLine = () => {
    const end = bytes.indexOf(0x0a, position);
    if (end < 0) throw fail("unterminated text argument", position);
    const line = latin1(bytes.subarray(position, end));
    position = end + 1;
    return line;
  };
  const u8 = () => readBytes(1)[0]!;
  const u16 = () => (need(2), position += 2, view.getUint16(position - 2, true));
  const u32 = () => (need(4), position += 4, view.getUint32(position - 4, true));
  const i32 = () => (need(4), position += 4, view.getInt32(position - 4, true));
  const u64 = () => (need(8), position += 8, Number(view.getBigUint64(position - 8, true)));
  const pop = () => {
    if (stack.length === 0) throw fail("stack underflow", position);
    return stack.pop();
  };
  const popMark = () => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) throw fail("MARK expected", position);
    stack = previous;
    return items;
  };
  const top = () => stack[stack.length - 1];
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw fail("SETITEM on a non-dict", position);
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i] instanceof PyBytes ? pyText(items[i]) : items[i];
      target.set(key, items[i + 1]);
    }
  };
  const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);

  while (true) {
    const at = position;
    const opcode = u8();
    switch (opcode) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(readBytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(readBytes(u32())));
        break;
      case 0x49: { // INT (text)
        const line = readLine();
        stack.push(line === "01" ? true : line === "00" ? false : Number.parseInt(line, 10));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(Number.parseInt(readLine().replace(/L$/, ""), 10));
        break;
      case 0x47: // BINFLOAT
        need(8);
        position += 8;
        stack.push(view.getFloat64(position - 8, false));
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(readLine()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new PyBytes(readBytes(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(new PyBytes(readBytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(new PyBytes(readBytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(new PyBytes(readBytes(u32())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(new PyBytes(readBytes(u64())));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(new PyBytes(readBytes(u64())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(readBytes(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(readBytes(u32())));
        break;
      case 0x56: // UNICODE (text, raw-unicode-escape)
        stack.push(
          readLine().replace(
            /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
            (_, short: string, long: string) => String.fromCodePoint(parseInt(short ?? long, 16)),
          ),
        );
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(readBytes(u64())));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x61: { // APPEND
        const item = pop();
        (top() as unknown[]).push(item);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw fail("APPENDS on a non-list", at);
        for (const item of items) list.push(item);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top() as Set<unknown>;
        for (const item of items) set.add(item);
        break;
      }
      case 0x6c: { // LIST
        // popMark() swaps `stack`, so take the items before touching it.
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x74: { // TUPLE
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        const dict = new Map();
        setItems(dict, items);
        stack.push(dict);
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number.parseInt(readLine(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: { // GET
        const index = opcode === 0x68 ? u8() : opcode === 0x6a ? u32() : Number(readLine());
        if (!memo.has(index)) throw fail(`memo key ${index} is not defined`, at);
        stack.push(memo.get(index));
        break;
      }
      case 0x63: { // GLOBAL
        const module = readLine();
        const name = readLine();
        stack.push(new PyGlobal(`${module}.${name}`));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(new PyGlobal(`${module}.${name}`));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(callGlobal(callable, args instanceof PyTuple ? args.items : [], fail, at));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args instanceof PyTuple ? args.items : [], fail, at));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state, fail, at);
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        throw fail(`unsupported opcode 0x${opcode.toString(16).padStart(2, "0")}`, at);
    }
  }
}

class PyGlobal {
  constructor(readonly name: string) {}
}

const RECONSTRUCT = new Set([
  "numpy.core.multiarray._reconstruct",
  "numpy._core.multiarray._reconstruct",
]);

function callGlobal(
  callable: unknown,
  args: unknown[],
  fail: (reason: string, at: number) => UserError,
  at: number,
): unknown {
  if (!(callable instanceof PyGlobal)) throw fail("REDUCE on a non-callable", at);
  if (RECONSTRUCT.has(callable.name)) return new NdArray();
  if (callable.name === "numpy.dtype") return new NumpyDtype(pyText(args[0]) ?? "");
  if (callable.name === "_codecs.encode") {
    // Python 3's protocol-2 spelling of bytes: _codecs.encode(latin-1 text, "latin1").
    return new PyBytes(fromLatin1(pyText(args[0]) ?? ""));
  }
  return new PyObject(callable.name, args);
}

function build(
  target: unknown,
  state: unknown,
  fail: (reason: string, at: number) => UserError,
  at: number,
): void {
  if (target instanceof NumpyDtype) {
    // state = (version, byteorder, ...): fold an explicit byte order into the descriptor.
    const order = state instanceof PyTuple ? pyText(state.items[1]) : undefined;
    if (order === "<" || order === ">") target.descr = order + target.descr.replace(/^[<>|=]/, "");
    return;
  }
  if (target instanceof NdArray) {
    // state = (version, shape, dtype, is_fortran, raw data)
    if (!(state instanceof PyTuple) || state.items.length < 5) {
      throw fail("numpy array state is not a 5-tuple", at);
    }
    const [, shape, dtype, fortran, raw] = state.items;
    target.shape = shape instanceof PyTuple ? shape.items.map(Number) : [];
    target.dtype = dtype instanceof NumpyDtype ? dtype.descr : String(dtype);
    target.fortranOrder = fortran === true || fortran === 1;
    if (raw instanceof PyBytes) target.data = raw.bytes;
    else if (typeof raw === "string") target.data = fromLatin1(raw);
    else throw fail("numpy array of Python objects is not supported", at);
    return;
  }
  if (target instanceof PyObject) {
    target.state = state;
    return;
  }
  throw fail("BUILD on a value that takes no state", at);
}

/** Reads a pickle file; a missing file is a UserError naming it. */
export async function readPickle(path: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new UserError(`Cannot read pickle ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parsePickle(bytes, path);
}

// ---------------------------------------------------------------------------------------------
// Writer (protocol 2, no memo: enough for plain data and uint8 numpy arrays)

/**
 * Encodes `value` as a protocol-2 pickle that Python 2 and 3 load: Map / plain objects as dicts,
 * arrays as lists, `PyTuple` as tuples, strings as unicode, `PyBytes` as Python 2 `str`
 * (what CIFAR's files hold; Python 3 loads them with `encoding="latin1"`), integers, floats,
 * booleans, null, and `NdArray` as a numpy array rebuilt by `numpy.core.multiarray._reconstruct`.
 */
export function encodePickle(value: unknown): Uint8Array {
  const chunks: Uint8Array[] = [];
  const push = (...bytes: number[]): void => {
    chunks.push(Uint8Array.from(bytes));
  };
  const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  const text = (s: string) => new TextEncoder().encode(s);
  const line = (s: string) => chunks.push(text(`${s}\n`));

  const write = (v: unknown): void => {
    if (v === null || v === undefined) return push(0x4e);
    if (v === true) return push(0x88);
    if (v === false) return push(0x89);
    if (typeof v === "number") {
      if (Number.isInteger(v) && v >= 0 && v < 256) return push(0x4b, v);
      if (Number.isInteger(v) && v >= 0 && v < 65536) return push(0x4d, v & 0xff, v >>> 8);
      if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return push(0x4a, ...u32(v));
      const out = new Uint8Array(9);
      out[0] = 0x47;
      new DataView(out.buffer).setFloat64(1, v, false);
      chunks.push(out);
      return;
    }
    if (typeof v === "string") {
      const encoded = text(v);
      push(0x58, ...u32(encoded.length));
      chunks.push(encoded);
      return;
    }
    if (v instanceof PyBytes) {
      if (v.bytes.length < 256) push(0x55, v.bytes.length);
      else push(0x54, ...u32(v.bytes.length));
      chunks.push(v.bytes);
      return;
    }
    if (v instanceof PyTuple) {
      push(0x28);
      v.items.forEach(write);
      return push(0x74);
    }
    if (Array.isArray(v)) {
      push(0x5d);
      for (let i = 0; i < v.length; i += 1000) {
        push(0x28);
        v.slice(i, i + 1000).forEach(write);
        push(0x65);
      }
      return;
    }
    if (v instanceof NdArray) return writeNdArray(v);
    if (v instanceof Map || typeof v === "object") {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
      push(0x7d);
      if (entries.length === 0) return;
      push(0x28);
      for (const [key, item] of entries) {
        write(key);
        write(item);
      }
      return push(0x75);
    }
    throw new TypeError(`encodePickle: cannot encode ${typeof v}`);
  };

  const writeNdArray = (array: NdArray) => {
    // _reconstruct(ndarray, (0,), b'b') then __setstate__((1, shape, dtype, fortran, bytes)).
    push(0x63);
    line("numpy.core.multiarray");
    line("_reconstruct");
    push(0x63);
    line("numpy");
    line("ndarray");
    push(0x4b, 0, 0x85);
    write(new PyBytes(text("b")));
    push(0x87, 0x52);
    push(0x28, 0x4b, 1);
    write(new PyTuple(array.shape));
    push(0x63);
    line("numpy");
    line("dtype");
    write(new PyBytes(text(array.dtype.replace(/^[<>|=]/, ""))));
    push(0x4b, 0, 0x4b, 1, 0x87, 0x52);
    const order = /^[<>]/.test(array.dtype) ? array.dtype[0]! : "|";
    write(new PyTuple([3, new PyBytes(text(order)), null, null, null, -1, -1, 0]));
    push(0x62);
    write(array.fortranOrder);
    write(new PyBytes(array.data));
    push(0x74, 0x62);
  };

  push(0x80, 2);
  write(value);
  push(0x2e);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A uint8 numpy array of the given shape (row-major), for `encodePickle`. */
export function uint8NdArray(data: Uint8Array, shape: number[]): NdArray {
  const array = new NdArray();
  array.dtype = "|u1";
  array.shape = shape;
  array.data = data;
  return array;
}
