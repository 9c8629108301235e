import assert from "node:assert/strict";
import { opShares } from "./ort_profile.ts";

const run = (ts: number, dur: number) => ({ cat: "Session", name: "model_run", ts, dur, args: {} });
const kernel = (op: string, ts: number, dur: number) => ({
  cat: "Node",
  name: `${op}_node_kernel_time`,
  ts,
  dur,
  args: { op_name: op },
});

Deno.test("opShares sums kernel time by operator per run, leaving out the warm-up run", () => {
  const events = [
    run(0, 100),
    kernel("MatMul", 10, 90), // warm-up: left out
    run(200, 100),
    kernel("MatMul", 210, 60),
    kernel("Add", 280, 20),
    { cat: "Node", name: "MatMul_node_fence_before", ts: 205, dur: 0, args: { op_name: "MatMul" } },
    run(400, 100),
    kernel("MatMul", 410, 80),
    kernel("Add", 495, 40),
  ];
  assert.deepEqual(opShares(events), [
    { op: "MatMul", nodes: 1, milliseconds: 0.07, share: 140 / 200 },
    { op: "Add", nodes: 1, milliseconds: 0.03, share: 60 / 200 },
  ]);
  assert.throws(() => opShares([run(0, 1)]), /1 runs, need a warm-up and one/);
});
