/**
 * The protobuf wire format (protobuf.dev/programming-guides/encoding), write side only, for the
 * few message types the project emits (ONNX models, src/io/onnx.ts). A message is a sequence of
 * fields, each a key `(field << 3) | wireType` as a varint followed by the value:
 * wire type 0 = varint (int32, int64, enums), 2 = length-delimited (strings, bytes, nested
 * messages, packed repeated scalars), 5 = 32-bit little-endian (float).
 *
 * A writer keeps large byte fields by reference (a model's weights are hundreds of MB) and copies
 * everything once, in `finish()`, into one buffer. Negative integers are written as 10-byte
 * two's-complement varints, as protobuf does for int32 and int64 (not zigzag: that is sint*).
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Small writes collect here before they become a chunk. */
const SCRATCH_BYTES = 4096;

const textEncoder = new TextEncoder();

export class ProtoWriter {
  /** Finished pieces, in order; large byte fields are kept as given (not copied). */
  #chunks: Uint8Array[] = [];
  #scratch = new Uint8Array(SCRATCH_BYTES);
  #used = 0;
  #length = 0;

  /** Bytes written so far. */
  get byteLength(): number {
    return this.#length;
  }

  #flush(): void {
    if (this.#used === 0) return;
    this.#chunks.push(this.#scratch.slice(0, this.#used));
    this.#used = 0;
  }

  #byte(value: number): void {
    if (this.#used === SCRATCH_BYTES) this.#flush();
    this.#scratch[this.#used++] = value;
    this.#length += 1;
  }

  #rawVarint(value: number | bigint): void {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`protobuf: ${value} is not an integer a varint can hold exactly`);
      }
      if (value >= 0) {
        // Division, not bit shifts: JS shifts work on 32 bits.
        while (value >= 0x80) {
          this.#byte((value % 0x80) | 0x80);
          value = Math.floor(value / 0x80);
        }
        this.#byte(value);
        return;
      }
      value = BigInt(value);
    }
    // Two's complement in 64 bits: a negative value takes all 10 bytes.
    let bits = BigInt.asUintN(64, value);
    while (bits >= 0x80n) {
      this.#byte(Number(bits & 0x7fn) | 0x80);
      bits >>= 7n;
    }
    this.#byte(Number(bits));
  }

  #key(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) {
      throw new RangeError(`protobuf: bad field number ${field}`);
    }
    this.#rawVarint(field * 8 + wireType);
  }

  #append(bytes: Uint8Array): void {
    if (bytes.byteLength <= SCRATCH_BYTES - this.#used) {
      this.#scratch.set(bytes, this.#used);
      this.#used += bytes.byteLength;
    } else {
      this.#flush();
      this.#chunks.push(bytes);
    }
    this.#length += bytes.byteLength;
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  varint(field: number, value: number | bigint): this {
    this.#key(field, WIRE_VARINT);
    this.#rawVarint(value);
    return this;
  }

  /** float field (wire type 5, IEEE 754 single, little-endian). */
  float(field: number, value: number): this {
    this.#key(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.#append(bytes);
    return this;
  }

  /** bytes field; `data` is referenced, not copied, until `finish()`. */
  bytes(field: number, data: Uint8Array): this {
    this.#key(field, WIRE_LENGTH_DELIMITED);
    this.#rawVarint(data.byteLength);
    this.#append(data);
    return this;
  }

  /** string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** Embedded message field: `message`'s bytes, referenced until `finish()`. */
  message(field: number, message: ProtoWriter): this {
    this.#key(field, WIRE_LENGTH_DELIMITED);
    this.#rawVarint(message.byteLength);
    this.#flush();
    message.#flush();
    this.#chunks.push(...message.#chunks);
    this.#length += message.byteLength;
    return this;
  }

  /** Packed repeated int32 / int64 field: one length-delimited run of varints. */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const run = new ProtoWriter();
    for (const value of values) run.#rawVarint(value);
    this.#key(field, WIRE_LENGTH_DELIMITED);
    this.#rawVarint(run.byteLength);
    return this.#appendWriter(run);
  }

  /** Packed repeated float field. */
  packedFloats(field: number, values: readonly number[]): this {
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    values.forEach((value, i) => view.setFloat32(i * 4, value, true));
    return this.bytes(field, data);
  }

  #appendWriter(other: ProtoWriter): this {
    other.#flush();
    for (const chunk of other.#chunks) this.#append(chunk);
    return this;
  }

  /** The message's bytes in one buffer. */
  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}
