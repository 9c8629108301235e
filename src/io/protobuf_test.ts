import assert from "node:assert/strict";
import { ProtoWriter } from "./protobuf.ts";

const hex = (bytes: Uint8Array) =>
  [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");

Deno.test("ProtoWriter writes the encoding guide's examples byte for byte", () => {
  // protobuf.dev/programming-guides/encoding: `a = 150`, `b = "testing"`, `c { a = 150 }`,
  // packed `d = [3, 270, 86942]`.
  assert.equal(hex(new ProtoWriter().varint(1, 150).finish()), "08 96 01");
  assert.equal(
    hex(new ProtoWriter().string(2, "testing").finish()),
    "12 07 74 65 73 74 69 6e 67",
  );
  const inner = new ProtoWriter().varint(1, 150);
  assert.equal(hex(new ProtoWriter().message(3, inner).finish()), "1a 03 08 96 01");
  assert.equal(
    hex(new ProtoWriter().packedVarints(4, [3, 270, 86942]).finish()),
    "22 06 03 8e 02 9e a7 05",
  );
});

Deno.test("ProtoWriter: negative ints take 10 bytes of two's complement, floats 4 little-endian", () => {
  assert.equal(
    hex(new ProtoWriter().varint(1, -1).finish()),
    "08 ff ff ff ff ff ff ff ff ff 01",
  );
  assert.equal(hex(new ProtoWriter().varint(1, -2n).finish()), "08 fe ff ff ff ff ff ff ff ff 01");
  assert.equal(hex(new ProtoWriter().float(1, 1).finish()), "0d 00 00 80 3f");
  assert.equal(
    hex(new ProtoWriter().packedFloats(2, [1, -2]).finish()),
    "12 08 00 00 80 3f 00 00 00 c0",
  );
  // 2^53 - 1, the largest exact JS integer: 7 bits per byte, low first.
  assert.equal(
    hex(new ProtoWriter().varint(1, Number.MAX_SAFE_INTEGER).finish()),
    "08 ff ff ff ff ff ff ff 0f",
  );
  assert.throws(() => new ProtoWriter().varint(1, 0.5), /not an integer/);
  assert.throws(() => new ProtoWriter().varint(0, 1), /bad field number 0/);
});

Deno.test("ProtoWriter keeps large fields and nested messages in order across its scratch buffer", () => {
  const big = new Uint8Array(10_000).map((_, i) => i % 251);
  const nested = new ProtoWriter().varint(1, 7).bytes(2, big).varint(3, 9);
  const outer = new ProtoWriter().string(1, "x").message(2, nested).varint(3, 1);
  const bytes = outer.finish();
  assert.equal(bytes.byteLength, outer.byteLength);
  // 0a 01 78 | 12 <len 10007 = 97 4e> | 08 07 12 <10000 = 90 4e> big 18 09 | 18 01
  assert.equal(hex(bytes.subarray(0, 6)), "0a 01 78 12 97 4e");
  assert.equal(hex(bytes.subarray(6, 11)), "08 07 12 90 4e");
  assert.deepEqual(bytes.subarray(11, 10_011), big);
  assert.equal(hex(bytes.subarray(10_011)), "18 09 18 01");
  // Many small fields overflow the scratch buffer and stay in order.
  const many = new ProtoWriter();
  for (let i = 0; i < 3000; i++) many.varint(1, i % 100);
  const manyBytes = many.finish();
  assert.equal(manyBytes.byteLength, 6000);
  assert.equal(manyBytes[5999], 99);
});
