import assert from "node:assert/strict";
import { Mt19937, randomSplitIndices, torchRandperm } from "./splits.ts";
import { needsShared, sharedPath } from "../../tests/shared.ts";

/** Reads a little-endian int32 .npy vector (the reference permutations' format). */
function readInt32Npy(path: string): Int32Array {
  const bytes = Deno.readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  assert.match(header, /'descr': '<i4'/);
  const start = 10 + headerLength;
  return new Int32Array(bytes.slice(start).buffer);
}

Deno.test("Mt19937(5489) gives the C++ std::mt19937 reference draws (10000th = 4123659995)", () => {
  const generator = new Mt19937(5489);
  assert.equal(generator.nextUint32(), 3499211612);
  let draw = 0;
  for (let i = 1; i < 10000; i++) draw = generator.nextUint32();
  assert.equal(draw, 4123659995);
});

Deno.test(
  "torchRandperm(1000, 42) equals torch.randperm(1000) with a CPU generator seeded 42",
  needsShared("mtil/splits/randperm_seed42_n1000.npy"),
  () => {
    const expected = readInt32Npy(sharedPath("mtil/splits/randperm_seed42_n1000.npy")!);
    assert.equal(expected.length, 1000);
    assert.deepEqual(torchRandperm(1000, 42), expected);
  },
);

Deno.test(
  "torchRandperm(8677, 42) equals torch.randperm(8677) (Caltech101's size)",
  needsShared("mtil/splits/randperm_seed42_n8677.npy"),
  () => {
    const expected = readInt32Npy(sharedPath("mtil/splits/randperm_seed42_n8677.npy")!);
    assert.deepEqual(torchRandperm(8677, 42), expected);
  },
);

Deno.test("randomSplitIndices(8677) puts int(0.8 n) = 6941 in train and 1736 in test", () => {
  const { train, test } = randomSplitIndices(8677);
  assert.equal(train.length, 6941);
  assert.equal(test.length, 1736);
  const all = new Set([...train, ...test]);
  assert.equal(all.size, 8677);
  assert.deepEqual([...train.slice(0, 3)], [...torchRandperm(8677, 42).slice(0, 3)]);
});

Deno.test("torchRandperm handles n = 0 and n = 1 like torch (empty, [0])", () => {
  assert.deepEqual([...torchRandperm(0, 42)], []);
  assert.deepEqual([...torchRandperm(1, 42)], [0]);
});
