import assert from "node:assert/strict";
import { jobKey, KEY_SCHEMA } from "./key.ts";

// Pinned: these strings change only when the key algorithm changes, which must come with a
// KEY_SCHEMA bump (every cached artifact is then recomputed).
Deno.test("jobKey of a fixed set of jobs gives fixed key strings (key schema 1)", () => {
  assert.equal(KEY_SCHEMA, 1);
  const keys = [
    jobKey({ kind: "load-clip", version: 1, params: { weights: "abc" }, inputs: {} }),
    jobKey({
      kind: "train",
      version: 3,
      params: { lr: 0.001, iterations: 500, targets: ["q", "v"] },
      inputs: { model: "11".repeat(32), shots: "22".repeat(32) },
    }),
    jobKey({ kind: "report", version: 1, params: null, inputs: { a: "33".repeat(32) } }),
  ];
  assert.deepEqual(keys, PINNED);
});

Deno.test("jobKey does not depend on the order params or inputs were written in", () => {
  const a = jobKey({ kind: "k", version: 1, params: { x: 1, y: 2 }, inputs: { p: "a", q: "b" } });
  const b = jobKey({ kind: "k", version: 1, params: { y: 2, x: 1 }, inputs: { q: "b", p: "a" } });
  assert.equal(a, b);
});

Deno.test("jobKey changes with kind, version, any param, and any input digest", () => {
  const base = { kind: "k", version: 1, params: { x: 1 }, inputs: { p: "a" } };
  const keys = new Set([
    jobKey(base),
    jobKey({ ...base, kind: "j" }),
    jobKey({ ...base, version: 2 }),
    jobKey({ ...base, params: { x: 1.5 } }),
    jobKey({ ...base, inputs: { p: "b" } }),
    jobKey({ ...base, inputs: { r: "a" } }),
  ]);
  assert.equal(keys.size, 6);
});

const PINNED = [
  // = sha256('{"inputs":{},"keySchema":1,"kind":"load-clip","params":{"weights":"abc"},"version":1}'),
  // also what Python's json.dumps(sort_keys=True, separators=(",", ":")) hashes to.
  "8b9d50b37c26d3f9ab53509febd89fca91d72e5503acd6660e69c0133129c03e",
  "be6789f74c0a9f4074d152dc8c9896882af0f4e8567a12c9182938fd75f8bb17",
  "eb9a7a10d6bdec1fee5394384f5dda04f646f89f2d8663dc900e6102f39f9ae7",
];
