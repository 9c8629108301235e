import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../clip/arch.ts";
import { availableBackends, useBackend } from "../clip/backend.ts";
import {
  type ClipModel,
  disposeModel,
  encodeImage,
  encodeText,
  textTokens,
} from "../clip/model.ts";
import { SeededRng } from "../io/rng.ts";
import { agoLoss } from "./ago.ts";
import { loadMethodConfig } from "./config.ts";
import {
  MICRO_ARCH,
  microModel,
  microPixels,
  poolWithNonZeroB,
  randomAgoBank,
} from "../../tests/micro_clip.ts";
import { disposeAdapterPool, poolLinear, trainableVariables } from "./pool.ts";
import { clipLoss } from "./train.ts";
import { assertCloseToScale } from "../../tests/tolerance.ts";

/** The micro CLIP with two blocks per encoder and CLIP's 77-token text context. */
const ARCH: ClipArch = {
  ...MICRO_ARCH,
  name: "test-micro-77",
  vision: { ...MICRO_ARCH.vision, layers: 2 },
  text: { ...MICRO_ARCH.text, layers: 2, contextLength: 77 },
};
const CONTEXT = 77;
const TOLERANCE = 1e-5;
const assertClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) =>
  assertCloseToScale(actual, expected, { tolerance: TOLERANCE, label });

/** Four prompts of different lengths: start 10, words 1..9, end 11 (the highest id) at `ends`. */
function promptIds(): Int32Array {
  const ends = [3, 9, 5, 2];
  const ids = new Int32Array(ends.length * CONTEXT);
  ends.forEach((end, row) => {
    ids[row * CONTEXT] = 10;
    for (let i = 1; i < end; i++) ids[row * CONTEXT + i] = 1 + ((row * 5 + i * 3) % 9);
    ids[row * CONTEXT + end] = 11;
  });
  return ids;
}

interface Step {
  loss: number;
  ago: number;
  grads: Map<string, Float32Array>;
  counts: Float32Array[];
}

/**
 * One training step as trainTask takes it with the paper's expert pool (router votes, dropout
 * 0.2, AGO against a random bank of past columns): loss, AGO term, gradients of every trainable
 * variable, and the activation counts after it.
 */
async function trainingStep(
  model: ClipModel,
  tokens: tf.Tensor2D,
  checkpoint: boolean,
): Promise<Step> {
  const method = loadMethodConfig("expert-pool");
  assert.equal(method.dropout, 0.2);
  const pool = poolWithNonZeroB(ARCH, method);
  const linear = poolLinear(pool, { training: true, rng: new SeededRng(9) });
  const bank = randomAgoBank(pool, { seed: 11, bound: 1 });
  let agoTerm: tf.Scalar | null = null;
  const { value, grads } = tf.tidy(() => {
    const pixels = tf.gather(microPixels(), tf.tensor1d([0, 3, 6, 9], "int32"));
    const targets = tf.eye(4) as tf.Tensor2D;
    return tf.variableGrads(() => {
      const text = encodeText(model, tokens, { linear, checkpoint });
      const image = encodeImage(model, pixels, { linear, checkpoint });
      const loss = clipLoss(text, image, { logitScale: model.logitScale, targets });
      const ago = agoLoss(pool, bank, method.ago)!;
      agoTerm = tf.keep(tf.clone(ago));
      return tf.add(loss, tf.mul(ago, method.ago.weight));
    }, trainableVariables(pool));
  });
  const loss = (await value.data())[0]!;
  const ago = (await agoTerm!.data())[0]!;
  const gradients = new Map<string, Float32Array>();
  for (const [name, grad] of Object.entries(grads)) {
    gradients.set(name, await grad.data<"float32">());
  }
  const counts = [];
  for (const adapter of pool.adapters.values()) counts.push(await adapter.counts.data<"float32">());
  tf.dispose([value, agoTerm!, ...Object.values(grads), ...bank.values()]);
  disposeAdapterPool(pool);
  return { loss, ago, grads: gradients, counts };
}

Deno.test("a training step (expert pool, dropout, AGO) on tokens cut at the end token gives the full context's loss, gradients and counts within 1e-5, checkpointed or not (cpu, wasm; webgpu checkpointed)", async () => {
  const ids = promptIds();
  for (const backend of await availableBackends()) {
    await useBackend(backend);
    const model = microModel(1, ARCH);
    const full = tf.tensor2d(ids, [4, CONTEXT], "int32");
    const cut = textTokens(ids, CONTEXT);
    assert.deepEqual(cut.shape, [4, 10]);
    const before = tf.memory().numTensors;
    // WebGPU (a software adapter in CI) runs the checkpointed step only, as training does.
    for (const checkpoint of backend === "webgpu" ? [true] : [false, true]) {
      const label = `${backend}${checkpoint ? " checkpointed" : ""}`;
      const expected = await trainingStep(model, full, checkpoint);
      const actual = await trainingStep(model, cut, checkpoint);
      assertClose([actual.loss], [expected.loss], `${label} loss`);
      assert.ok(expected.ago > 0, `${label}: the AGO term is on`);
      assertClose([actual.ago], [expected.ago], `${label} AGO`);
      assert.deepEqual([...actual.grads.keys()], [...expected.grads.keys()], label);
      assert.equal(expected.grads.size, 24 * 2, label); // A and B of 6 linears x 4 blocks
      for (const [name, grad] of expected.grads) {
        assert.ok(grad.some((g) => g !== 0), `${label} ${name} has a gradient`);
        assertClose(actual.grads.get(name)!, grad, `${label} ${name}`);
      }
      assert.deepEqual(actual.counts, expected.counts, `${label}: routing unchanged`);
    }
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    tf.dispose([full, cut]);
    disposeModel(model);
  }
  await useBackend("cpu");
});
