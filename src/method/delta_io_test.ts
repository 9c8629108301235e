import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import type { TaskDelta } from "./delta.ts";
import { loadTaskDelta, saveTaskDelta } from "./delta_io.ts";
import { AdamW, cosineLearningRate } from "./optimizer.ts";

await tf.setBackend("cpu");

const DELTA: TaskDelta = {
  task: "DTD",
  method: "expert-pool",
  rank: 3,
  scale: 1 / 3,
  modules: [{
    name: "text.blocks.0.attn.q",
    dIn: 2,
    dOut: 3,
    experts: [0, 2],
    down: Float32Array.from([1, 2, 3, 4]), // [d_in 2, m 2]
    up: Float32Array.from([5, 6, 7, 8, 9, 10]), // [m 2, d_out 3]
    counts: Float64Array.from([4, 1, 3]),
    agoRows: Float32Array.from([5, 6, 7]), // [c 1, d_out 3]
    router: { weight: Float32Array.from([1, 2, 3, 4, 5, 6]), bias: Float32Array.from([0, 1, 2]) },
  }],
  dense: [{ name: "ln_final.weight", shape: [2], data: Float32Array.from([1.5, 2.5]) }],
};

Deno.test("saveTaskDelta() then loadTaskDelta() gives back every field; lora_A is stored [m, d_in]", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/delta.safetensors`;
    await saveTaskDelta(path, DELTA);
    const loaded = await loadTaskDelta(path);
    assert.deepEqual(loaded, DELTA);
    const { SafetensorsReader } = await import("../io/safetensors.ts");
    using reader = await SafetensorsReader.open(path);
    const loraA = await reader.readFloat32("text.blocks.0.attn.q.lora_A");
    assert.deepEqual(loraA.shape, [2, 2]);
    assert.deepEqual([...loraA.data], [1, 3, 2, 4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadTaskDelta() rejects a safetensors file that is not a task delta", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/weights.safetensors`;
    await writeSafetensors(path, { w: { shape: [1], data: Float32Array.from([1]) } });
    await assert.rejects(loadTaskDelta(path), (error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /weights\.safetensors: not a task delta/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AdamW matches torch's update: first step moves by lr·sign(g) after decoupled decay", () => {
  const before = tf.memory().numTensors;
  const init = tf.tensor1d([1, -2]);
  const p = tf.variable(init);
  init.dispose();
  const optimizer = new AdamW([p], { weightDecay: 0.01, betas: [0.9, 0.999] });
  const g1 = tf.tensor1d([0.5, -0.25]);
  optimizer.applyGradients({ [p.name]: g1 }, 0.1);
  const after1 = [...p.dataSync()];
  assert.ok(Math.abs(after1[0]! - (1 * (1 - 0.001) - 0.1)) < 1e-6);
  assert.ok(Math.abs(after1[1]! - (-2 * (1 - 0.001) + 0.1)) < 1e-6);
  // Second step by the formula: m = 0.9·0.05 + 0.1·0.1, v = 0.999·0.00025 + 0.001·0.01.
  const g2 = tf.tensor1d([0.1, 0]);
  optimizer.applyGradients({ [p.name]: g2 }, 0.05);
  const m = 0.9 * 0.05 + 0.1 * 0.1;
  const v = 0.999 * 0.00025 + 0.001 * 0.01;
  const expected = after1[0]! * (1 - 0.05 * 0.01) -
    (0.05 / (1 - 0.9 ** 2)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8);
  assert.ok(Math.abs(p.dataSync()[0]! - expected) < 1e-6);
  tf.dispose([g1, g2, p]);
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("cosineLearningRate() runs from lr to min_lr over `iterations` steps (torch CosineAnnealingLR)", () => {
  const options = { lr: 2e-3, minLr: 1e-6, iterations: 500 };
  assert.equal(cosineLearningRate(0, options), 2e-3);
  assert.ok(Math.abs(cosineLearningRate(250, options) - (2e-3 + 1e-6) / 2) < 1e-12);
  assert.ok(Math.abs(cosineLearningRate(500, options) - 1e-6) < 1e-15);
});
