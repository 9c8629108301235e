import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { SeededRng } from "../io/rng.ts";
import { onEveryBackend } from "../../tests/backends.ts";
import { assignTidy, singleLinearConfig, tinyArch } from "../../tests/tiny_pool.ts";
import { EXPERT_POOL_DEFAULTS } from "./config.ts";
import { absWithSignGradient, agoLoss, agoTensors, disposeAgoTensors } from "./ago.ts";
import { agoBank, type TaskDelta } from "./delta.ts";
import { type AdapterPool, createAdapterPool, disposeAdapterPool } from "./pool.ts";

const MODULE = "visual.blocks.0.mlp.fc";

/** A finished task whose AGO bank holds `rows` (B columns, each of length `dOut`) for MODULE. */
function deltaWithAgoRows(rows: number[], dOut: number): TaskDelta {
  return {
    task: "past",
    method: "expert-pool",
    rank: 2,
    scale: 0.5,
    dense: [],
    modules: [{
      name: MODULE,
      dIn: 2,
      dOut,
      experts: [],
      down: new Float32Array(0),
      up: new Float32Array(0),
      counts: new Float64Array(2),
      agoRows: Float32Array.from(rows),
      router: null,
    }],
  };
}

/** A pool of `rank` experts on MODULE ([2, 3]) with B rows `up` and activation `counts`. */
function poolWith(up: number[], counts: number[], critical: number): AdapterPool {
  const rank = counts.length;
  const method = singleLinearConfig({
    rank,
    topK: 1,
    ago: { ...EXPERT_POOL_DEFAULTS.ago, critical },
  });
  const pool = createAdapterPool(tinyArch(2, 3), method, { rng: new SeededRng(3) });
  const adapter = pool.adapters.get(MODULE)!;
  assignTidy(adapter.up, tf.tensor2d(up, [rank, 3]));
  assignTidy(adapter.counts, tf.tensor1d(counts));
  return pool;
}

/** The AGO term and its gradient with respect to `up` [r, d_out], row-major. */
async function termAndGradient(
  pool: AdapterPool,
  options: { pastRows: number[]; critical: number },
): Promise<{ value: number; gradient: number[] }> {
  const bank = agoTensors(agoBank([deltaWithAgoRows(options.pastRows, 3)]));
  const up = pool.adapters.get(MODULE)!.up;
  const { value, grads } = tf.tidy(() =>
    tf.variableGrads(
      () => agoLoss(pool, bank, { current: "critical", critical: options.critical })!,
      [up],
    )
  );
  const result = { value: (await value.data())[0]!, gradient: [...await grads[up.name]!.data()] };
  tf.dispose([value, ...Object.values(grads)]);
  disposeAgoTensors(bank);
  return result;
}

Deno.test("absWithSignGradient() is |x| with gradient sign(x), 0 at x = 0 (tf.abs gives -1 there), on every backend", async () => {
  await onEveryBackend(async (backend) => {
    // Tiny values too: tfjs-wasm's tf.sign rounds |x| < ~1e-6 to 0.
    const x = tf.tensor1d([-2.5, -0, 0, 3, -1e-7, 1e-30]);
    const ours = tf.grad((t: tf.Tensor) => tf.sum(absWithSignGradient(t)));
    const tfAbs = tf.grad((t: tf.Tensor) => tf.sum(tf.abs(t)));
    const [value, gradient, absGradient] = tf.tidy(() => [
      absWithSignGradient(x),
      ours(x),
      tfAbs(x),
    ]);
    assert.deepEqual(
      [...await value.data()],
      [2.5, 0, 0, 3, 1e-7, 1e-30].map(Math.fround),
      backend,
    );
    assert.deepEqual([...await gradient.data()], [-1, 0, 0, 1, -1, 1], backend);
    // Why the helper exists: tfjs defines d|x|/dx = step(x, -1), i.e. -1 at exactly 0.
    assert.deepEqual([...await absGradient.data()], [-1, -1, -1, 1, -1, 1], backend);
    tf.dispose([x, value, gradient, absGradient]);
  });
});

Deno.test("agoLoss() gives B_cur no gradient when every product with the past is 0 (every task's first step), on every backend", async () => {
  await onEveryBackend(async (backend) => {
    // B = 0 (a fresh task); counts pick experts 1 and 2 (9 and 9 beat 5).
    const pool = poolWith([0, 0, 0, 0, 0, 0, 0, 0, 0], [5, 9, 9], 2);
    // Three past columns (1,1,1), (2,-1,0), (0,0,-1): with tf.abs the rows of experts 1 and 2
    // would get -(sum of the past columns) = (-3, 0, 0).
    const { value, gradient } = await termAndGradient(pool, {
      pastRows: [1, 1, 1, 2, -1, 0, 0, 0, -1],
      critical: 2,
    });
    assert.equal(value, 0, backend);
    assert.deepEqual(gradient, [0, 0, 0, 0, 0, 0, 0, 0, 0], backend);
    disposeAdapterPool(pool);
  });
});

Deno.test("agoLoss()'s gradient is sum_j sign(b·p_j)·p_j with zero and non-zero products mixed, on every backend", async () => {
  await onEveryBackend(async (backend) => {
    // Expert 0 (7,7,7) is not among the 2 most activated; expert 1 = (1,2,0), expert 2 = (0,0,4).
    const pool = poolWith([7, 7, 7, 1, 2, 0, 0, 0, 4], [1, 5, 5], 2);
    // Past p1 = (1,1,1), p2 = (2,-1,0), p3 = (0,-1,0).
    //   expert 1: b·p = 3, 0, -2 -> gradient p1 - p3 = (1, 2, 1)
    //   expert 2: b·p = 4, 0, 0  -> gradient p1 = (1, 1, 1)
    //   term = |3| + |0| + |-2| + |4| + |0| + |0| = 9 (one module: the mean is the sum)
    // tf.abs would add -p2 to expert 1 and -(p2 + p3) to expert 2.
    const { value, gradient } = await termAndGradient(pool, {
      pastRows: [1, 1, 1, 2, -1, 0, 0, -1, 0],
      critical: 2,
    });
    assert.equal(value, 9, backend);
    assert.deepEqual(gradient, [0, 0, 0, 1, 2, 1, 1, 1, 1], backend);
    disposeAdapterPool(pool);
  });
});

Deno.test("agoLoss() is sum |B_curᵀ B_past|, zero for orthogonal columns, absent without a past", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  // B columns (1,2,0) and (0,0,5); the current critical expert: 0.
  const pool = poolWith([1, 2, 0, 0, 0, 5], [3, 1], 1);
  const options = { current: "critical" as const, critical: 1 };

  assert.equal(agoLoss(pool, new Map(), options), null);

  const orthogonal = agoTensors(agoBank([deltaWithAgoRows([-2, 1, 7], 3)]));
  assert.equal(tf.tidy(() => agoLoss(pool, orthogonal, options)!.dataSync()[0]), 0);
  disposeAgoTensors(orthogonal);

  // Past columns (1,1,1) and (0,-1,0): |1+2| + |-2| = 5; d/dB_cur = sign(3)·p1 + sign(-2)·p2 =
  // (1, 2, 1); the other expert: 0.
  const { value, gradient } = await termAndGradient(pool, {
    pastRows: [1, 1, 1, 0, -1, 0],
    critical: 1,
  });
  assert.equal(value, 5);
  assert.deepEqual(gradient, [1, 2, 1, 0, 0, 0]);
  disposeAdapterPool(pool);
  assert.equal(tf.memory().numTensors, before);
});
