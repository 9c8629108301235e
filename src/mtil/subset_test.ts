import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { balancedSubset } from "./subset.ts";

Deno.test("balancedSubset takes classes round-robin in label order and keeps split order", () => {
  const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  assert.deepEqual([...balancedSubset(labels, 5)], [0, 1, 3, 4, 5]);
  // Class 1 runs out after two: the remaining picks go to classes 0 and 2.
  assert.deepEqual([...balancedSubset(labels, 7)], [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...balancedSubset(labels, 2)], [0, 3]);
  assert.deepEqual([...balancedSubset(labels, 100)], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  // Interleaved labels: round 0 takes 3 (class 0), 1 (class 1), 0 (class 2); round 1 starts
  // again at class 0 (index 5).
  assert.deepEqual([...balancedSubset([2, 1, 2, 0, 1, 0, 2], 4)], [0, 1, 3, 5]);
  assert.throws(() => balancedSubset(labels, 0), UserError);
});
