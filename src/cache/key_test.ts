import assert from "node:assert/strict";
import { jobKey, KEY_SCHEMA } from "./key.ts";

// Pinned: these strings change only when the key algorithm changes, which must come with a
// KEY_SCHEMA bump (every cached artifact is then recomputed).
Deno.test("jobKey of a fixed set of jobs gives fixed key strings (key schema 2)", () => {
  assert.equal(KEY_SCHEMA, 2);
  const keys = [
    jobKey({
      kind: "load-clip",
      version: 1,
      params: { weights: "abc" },
      inputs: {},
      sources: { weights: "44".repeat(32) },
    }),
    jobKey({
      kind: "train",
      version: 3,
      params: { lr: 0.001, iterations: 500, targets: ["q", "v"] },
      inputs: { model: "11".repeat(32), shots: "22".repeat(32) },
      sources: {},
    }),
    jobKey({
      kind: "report",
      version: 1,
      params: null,
      inputs: { a: "33".repeat(32) },
      sources: {},
    }),
  ];
  assert.deepEqual(keys, PINNED);
});

Deno.test("jobKey does not depend on the order params or inputs were written in", () => {
  const a = jobKey({
    kind: "k",
    version: 1,
    params: { x: 1, y: 2 },
    inputs: { p: "a", q: "b" },
    sources: { s: "c", t: "d" },
  });
  const b = jobKey({
    kind: "k",
    version: 1,
    params: { y: 2, x: 1 },
    inputs: { q: "b", p: "a" },
    sources: { t: "d", s: "c" },
  });
  assert.equal(a, b);
});

Deno.test("jobKey changes with kind, version, any param, any input digest and any source digest", () => {
  const base = { kind: "k", version: 1, params: { x: 1 }, inputs: { p: "a" }, sources: {} };
  const keys = new Set([
    jobKey(base),
    jobKey({ ...base, kind: "j" }),
    jobKey({ ...base, version: 2 }),
    jobKey({ ...base, params: { x: 1.5 } }),
    jobKey({ ...base, inputs: { p: "b" } }),
    jobKey({ ...base, inputs: { r: "a" } }),
    jobKey({ ...base, sources: { data: "a" } }),
    jobKey({ ...base, sources: { data: "b" } }),
  ]);
  assert.equal(keys.size, 8);
});

const PINNED = [
  // = sha256('{"inputs":{},"keySchema":2,"kind":"load-clip","params":{"weights":"abc"},
  //   "sources":{"weights":"4444...44"},"version":1}') (no line break, 64 fours),
  // also what Python's json.dumps(sort_keys=True, separators=(",", ":")) hashes to.
  "abbf4ab14a4d4f3151bd0d12ac61da247e87f20f628596b66eca6cbb9eddbe1e",
  "0bc7bad6487beb39a16c85eed20dc46a04e948bbba6a80e3abce8a3c7c9c6ebf",
  "08890069aa3916766d60bc01be80d467e6d4f6600048845a3d3fe8c9028505c0",
];
