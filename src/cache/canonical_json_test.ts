import assert from "node:assert/strict";
import { canonicalJson } from "./canonical_json.ts";
import { sha256Hex } from "./digest.ts";
import { UserError } from "../errors.ts";

Deno.test("canonicalJson sorts keys at every depth and writes no whitespace", () => {
  const text = canonicalJson({ b: 1, a: { d: [3, { z: 0, y: "x" }], c: null }, "é": true });
  assert.equal(text, '{"a":{"c":null,"d":[3,{"y":"x","z":0}]},"b":1,"é":true}');
});

Deno.test("canonicalJson gives the same text whatever the insertion order of keys", () => {
  assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
});

Deno.test("canonicalJson prints numbers in the shortest round-trip form, -0 as 0", () => {
  assert.equal(
    canonicalJson([0.1, 1e-7, 1e21, 100, -0, 0.30000000000000004]),
    "[0.1,1e-7,1e+21,100,0,0.30000000000000004]",
  );
});

Deno.test("canonicalJson rejects undefined, NaN, Infinity, functions, bigint, Date, Map, holes", () => {
  const bad: [unknown, string][] = [
    [{ a: undefined }, "params.a: a undefined"],
    [{ lr: NaN }, "params.lr: NaN"],
    [[1, Infinity], "params[1]: Infinity"],
    [{ f: () => 1 }, "params.f: a function"],
    [{ n: 1n }, "params.n: a bigint"],
    [{ when: new Date(0) }, "params.when: a Date"],
    [new Map(), "params: a Map"],
    // deno-lint-ignore no-sparse-arrays
    [[1, , 3], "params[1]: sparse array hole"],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => canonicalJson(value, "params"), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.ok(error.message.startsWith(message), error.message);
      return true;
    });
  }
});

Deno.test("canonicalJson rejects cycles instead of recursing forever", () => {
  const looped: Record<string, unknown> = {};
  looped.self = looped;
  assert.throws(() => canonicalJson(looped), /cyclic/);
});

Deno.test("sha256Hex of 'abc' is the FIPS 180-2 test vector, for strings and bytes alike", () => {
  const expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(sha256Hex("abc"), expected);
  assert.equal(sha256Hex(new TextEncoder().encode("abc")), expected);
});
