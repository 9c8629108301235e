import assert from "node:assert/strict";
import { encodeIdxUint8, parseIdx } from "./idx.ts";
import { UserError } from "../errors.ts";

Deno.test("encodeIdxUint8 writes MNIST's header (magic 0x00000803, big-endian dims)", () => {
  const bytes = encodeIdxUint8(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2]);
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 0, 8, 3, 0, 0, 0, 2]);
  assert.equal(bytes.length, 16 + 8);
  const parsed = parseIdx(bytes, "x");
  assert.equal(parsed.dtype, "uint8");
  assert.deepEqual(parsed.shape, [2, 2, 2]);
  assert.deepEqual([...parsed.data], [1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("parseIdx reads big-endian int32 values", () => {
  const bytes = new Uint8Array([0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe]);
  const parsed = parseIdx(bytes, "x");
  assert.deepEqual([...parsed.data], [256, -2]);
});

Deno.test("parseIdx names the file and the byte counts when the data is truncated", () => {
  const bytes = encodeIdxUint8(new Uint8Array(6), [6]).subarray(0, 10);
  assert.throws(
    () => parseIdx(bytes, "/d/MNIST/raw/train-labels-idx1-ubyte"),
    (error: unknown) =>
      error instanceof UserError &&
      error.message ===
        "Cannot read IDX file /d/MNIST/raw/train-labels-idx1-ubyte: shape [6] needs 14 bytes, " +
          "the file has 10",
  );
  assert.throws(() => parseIdx(new Uint8Array([1, 2, 3, 4]), "f"), /bad magic number 0x01020304/);
});
