import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type LinearLayer, plainLinear } from "../clip/linear.ts";
import { readNpy } from "../io/npy.ts";
import { SeededRng } from "../io/rng.ts";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { assignTidy, singleLinearConfig, tinyArch } from "../../tests/tiny_pool.ts";
import { applyTaskDelta, extractTaskDelta } from "./delta.ts";
import { createAdapterPool, disposeAdapterPool, poolLinear, tokenMajorDropout } from "./pool.ts";
import { countVotes, expertMask, topKIndices } from "./routing.ts";

await tf.setBackend("cpu");

function layerOf(weight: tf.Tensor2D, bias: tf.Tensor1D): LinearLayer {
  return {
    name: "visual.blocks.0.mlp.fc",
    encoder: "vision",
    block: 0,
    target: "fc",
    weight,
    bias,
  };
}

/** Row-major [rows, cols] matrix product in float64. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number) {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += a[i * k + t]! * b[t * m + j]!;
      out[i * m + j] = sum;
    }
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  assert.ok(worst <= tolerance, `max abs difference ${worst} > ${tolerance}`);
}

Deno.test("topKIndices() returns the largest first and breaks ties toward the lower index", () => {
  assert.deepEqual(topKIndices([1, 5, 3, 5, 0], 3), [1, 3, 2]);
  assert.deepEqual(topKIndices([2, 2, 2, 2], 2), [0, 1]);
});

Deno.test("countVotes() gives each sample's top-2 one vote; expertMask() keeps the 2 most voted", () => {
  // 3 samples x 4 experts: tops are {0,1}, {1,2}, {1,3}.
  const probs = [0.4, 0.3, 0.2, 0.1, 0.1, 0.5, 0.3, 0.1, 0.1, 0.4, 0.1, 0.4];
  const votes = countVotes(probs, 3, { experts: 4, k: 2 });
  assert.deepEqual([...votes], [1, 3, 1, 1]);
  // Experts 0, 2, 3 tie with one vote: the lower index (0) joins expert 1.
  assert.deepEqual([...expertMask(votes, 2)], [1, 1, 0, 0]);
});

Deno.test("the adapter output equals x·W + b + (alpha/r)·x·A_S·B_S on a hand-built case", () => {
  const before = tf.memory().numTensors;
  const cfg = singleLinearConfig({ rank: 3, alpha: 1.5, routing: "all", merge: "all" });
  const pool = createAdapterPool(tinyArch(2, 3), cfg, { rng: new SeededRng(1) });
  const adapter = pool.adapters.get("visual.blocks.0.mlp.fc")!;
  const down = [1, 0, 2, 0, 1, -1]; // [d_in 2, r 3]
  const up = [1, 2, 3, 0, 1, 0, -1, 0, 1]; // [r 3, d_out 3]
  assignTidy(adapter.down, tf.tensor2d(down, [2, 3]));
  assignTidy(adapter.up, tf.tensor2d(up, [3, 3]));
  const weight = tf.tensor2d([1, 0, 1, 0, 1, 1], [2, 3]);
  const bias = tf.tensor1d([0.5, -0.5, 0]);
  const x = [1, 2, -1, 0.5]; // [batch 1, tokens 2, d_in 2]
  const y = tf.tidy(() =>
    poolLinear(pool, { training: true })(layerOf(weight, bias), tf.tensor3d(x, [1, 2, 2]))
      .dataSync()
  );
  const base = matmul(x, [1, 0, 1, 0, 1, 1], 2, 2, 3);
  const branch = matmul(matmul(x, down, 2, 2, 3), up, 2, 3, 3);
  const expected = base.map((v, i) => v + [0.5, -0.5, 0][i % 3]! + (1.5 / 3) * branch[i]!);
  assertClose(y, expected, 1e-5);
  assert.deepEqual([...adapter.counts.dataSync()], [1, 1, 1]);
  weight.dispose();
  bias.dispose();
  disposeAdapterPool(pool);
  assert.equal(tf.memory().numTensors, before);
});

async function loadFixture(name: string): Promise<Float32Array> {
  const array = await readNpy(sharedPath(`fixtures/lora-ref/${name}.npy`)!);
  return Float32Array.from(array.data as Float32Array);
}

/** torch [out, in] -> input-major [in, out]. */
function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = values[i * cols + j]!;
  }
  return out;
}

Deno.test(
  "the pool reproduces the authors' layer (lora-ref): output, votes and merged weight to 1e-5",
  needsShared("fixtures/lora-ref/y.npy"),
  async () => {
    const before = tf.memory().numTensors;
    const [x, w0, b0, loraA, loraB, routerW, routerB, y, counts, mergedW] = await Promise.all(
      ["x", "w0", "b0", "lora_A", "lora_B", "router_w", "router_b", "y", "counts", "merged_w"].map(
        loadFixture,
      ),
    );
    const pool = createAdapterPool(tinyArch(16, 24), singleLinearConfig({}), {
      rng: new SeededRng(0),
    });
    const adapter = pool.adapters.get("visual.blocks.0.mlp.fc")!;
    assignTidy(adapter.down, tf.tensor2d(transpose(loraA!, 12, 16), [16, 12]));
    assignTidy(adapter.up, tf.tensor2d(transpose(loraB!, 24, 12), [12, 24]));
    assignTidy(adapter.routerWeight!, tf.tensor2d(transpose(routerW!, 12, 16), [16, 12]));
    assignTidy(adapter.routerBias!, tf.tensor1d(routerB!));
    const layer = layerOf(tf.tensor2d(transpose(w0!, 24, 16), [16, 24]), tf.tensor1d(b0!));
    // The fixture is sequence-first [5 tokens, 6 samples, 16]; the model is batch-first.
    const output = tf.tidy(() => {
      const batchFirst = tf.transpose(tf.tensor3d(x!, [5, 6, 16]), [1, 0, 2]) as tf.Tensor3D;
      const out = poolLinear(pool, { training: true })(layer, batchFirst);
      return tf.transpose(out, [1, 0, 2]).dataSync();
    });
    assertClose(output, y!, 1e-5);
    assert.deepEqual([...adapter.counts.dataSync()], [...counts!]);

    const delta = await extractTaskDelta(pool, { task: "fixture" });
    assert.deepEqual(delta.modules[0]!.experts, [2, 9, 10, 11]);
    applyTaskDelta({ linears: new Map([[layer.name, layer]]) }, delta);
    assertClose(layer.weight.dataSync(), transpose(mergedW!, 24, 16), 1e-5);
    layer.weight.dispose();
    layer.bias.dispose();
    disposeAdapterPool(pool);
    assert.equal(tf.memory().numTensors, before);
  },
);

Deno.test("merge() adds (1/r)·B_top·A_top; the merged plain layer equals the pool restricted to them", async () => {
  const before = tf.memory().numTensors;
  const cfg = singleLinearConfig({ rank: 4, topK: 2, mergeTop: 2, alpha: 1 });
  const pool = createAdapterPool(tinyArch(3, 2), cfg, { rng: new SeededRng(7) });
  const adapter = pool.adapters.get("visual.blocks.0.mlp.fc")!;
  const up = [1, 2, -1, 0.5, 3, 1, 0, -2]; // [4, 2]
  assignTidy(adapter.up, tf.tensor2d(up, [4, 2]));
  assignTidy(adapter.counts, tf.tensor1d([5, 1, 7, 2])); // top-2 = experts 0 and 2
  const down = adapter.down.dataSync();
  const w0 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
  const layer = layerOf(tf.tensor2d(w0, [3, 2]), tf.zeros([2]) as tf.Tensor1D);
  const delta = await extractTaskDelta(pool, { task: "t" });
  assert.deepEqual(delta.modules[0]!.experts, [0, 2]);
  applyTaskDelta({ linears: new Map([[layer.name, layer]]) }, delta);
  const expected = w0.map((w, index) => {
    const i = Math.floor(index / 2);
    const o = index % 2;
    return w + (1 / 4) * (down[i * 4 + 0]! * up[0 * 2 + o]! + down[i * 4 + 2]! * up[2 * 2 + o]!);
  });
  assertClose(layer.weight.dataSync(), expected, 1e-6);

  // Adapter forced onto experts {0, 2} (router bias makes every sample pick them) on W0 equals
  // the merged plain layer.
  assignTidy(adapter.routerWeight!, tf.zeros([3, 4]));
  assignTidy(adapter.routerBias!, tf.tensor1d([10, 0, 10, 0]));
  const plainW0 = layerOf(tf.tensor2d(w0, [3, 2]), tf.zeros([2]) as tf.Tensor1D);
  const x = tf.tensor3d([1, -1, 2, 0.5, 0.5, -3], [2, 1, 3]);
  const viaPool = tf.tidy(() => poolLinear(pool, { training: false })(plainW0, x).dataSync());
  const viaMerged = tf.tidy(() => plainLinear(layer, x).dataSync());
  assertClose(viaPool, viaMerged, 1e-6);
  tf.dispose([x, layer.weight, layer.bias, plainW0.weight, plainW0.bias]);
  disposeAdapterPool(pool);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("tokenMajorDropout() drops on a prefix of the tokens what it drops there on all of them, at the rate, scaled by 1/keep", () => {
  const before = tf.memory().numTensors;
  const [batch, tokens, width] = [3, 40, 64];
  const draw = { key: [12, 34] as [number, number], call: 0, rate: 0.2 };
  const x = tf.ones([batch, tokens, width]) as tf.Tensor3D;
  const full = tf.tidy(() => tokenMajorDropout(x, draw));
  const prefix = tf.tidy(() => tokenMajorDropout(x.slice([0, 0, 0], [batch, 7, width]), draw));
  const fullValues = full.dataSync();
  const prefixValues = prefix.dataSync();
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < 7; t++) {
      for (let d = 0; d < width; d++) {
        const kept = prefixValues[(b * 7 + t) * width + d];
        assert.equal(kept, fullValues[(b * tokens + t) * width + d], `[${b}, ${t}, ${d}]`);
      }
    }
  }
  const kept = fullValues.filter((value) => value !== 0);
  assert.ok(kept.every((value) => Math.abs(value - 1 / 0.8) < 1e-6), "kept entries scaled 1/0.8");
  const dropped = 1 - kept.length / fullValues.length;
  assert.ok(Math.abs(dropped - 0.2) < 0.02, `dropped ${dropped} of the entries`);
  tf.dispose([x, full, prefix]);
  assert.equal(tf.memory().numTensors, before);
});
