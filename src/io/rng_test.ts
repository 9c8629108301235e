import assert from "node:assert/strict";
import { SeededRng } from "./rng.ts";

Deno.test("SeededRng(42) gives the mulberry32 sequence computed independently in Python", () => {
  const rng = new SeededRng(42);
  const draws = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
  assert.deepEqual(draws, [2581720956, 1925393290, 3661312704, 2876485805]);
});

Deno.test("equal seeds give equal sequences, different seeds different ones", () => {
  const a = new SeededRng(7);
  const b = new SeededRng(7);
  const c = new SeededRng(8);
  const fromA = Array.from({ length: 20 }, () => a.nextFloat());
  const fromB = Array.from({ length: 20 }, () => b.nextFloat());
  const fromC = Array.from({ length: 20 }, () => c.nextFloat());
  assert.deepEqual(fromA, fromB);
  assert.notDeepEqual(fromA, fromC);
});

Deno.test("nextFloat() stays in [0, 1) with mean near 1/2 over 20000 draws", () => {
  const rng = new SeededRng(1);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const x = rng.nextFloat();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
});

Deno.test("nextInt(6) hits every face of a die about 1/6 of the time", () => {
  const rng = new SeededRng(123);
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[rng.nextInt(6)]! += 1;
  for (const count of counts) assert.ok(Math.abs(count - 10000) < 400, `count ${count}`);
  assert.throws(() => rng.nextInt(0), RangeError);
  assert.throws(() => rng.nextInt(2.5), RangeError);
});

Deno.test("shuffle() permutes in place, deterministically for a seed", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const once = new SeededRng(5).shuffle([...items]);
  const again = new SeededRng(5).shuffle([...items]);
  assert.deepEqual(once, again);
  assert.notDeepEqual(once, items);
  assert.deepEqual([...once].sort((x, y) => x - y), items);
});

Deno.test("fork() gives an independent, reproducible stream", () => {
  const first = new SeededRng(9).fork();
  const second = new SeededRng(9).fork();
  assert.equal(first.nextUint32(), second.nextUint32());
  assert.notEqual(new SeededRng(9).fork().nextUint32(), new SeededRng(9).nextUint32());
});
