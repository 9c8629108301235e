import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../clip/arch.ts";
import { useBackend } from "../clip/backend.ts";
import { type ClipModel, disposeModel, encodeImage, encodeText } from "../clip/model.ts";
import { SeededRng } from "../io/rng.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import {
  MICRO_ARCH,
  microFewShotSet,
  microModel,
  microPixels,
  microTokenize,
  microTrainOptions,
  poolWithNonZeroB,
} from "../../tests/micro_clip.ts";
import { assertCloseToScale } from "../../tests/tolerance.ts";
import { createAdapterPool, disposeAdapterPool, poolLinear } from "./pool.ts";
import { clipLoss, type TrainResult, trainTask } from "./train.ts";

/** The micro CLIP with three blocks per encoder, so blocks feed blocks. */
const DEEP_ARCH: ClipArch = {
  ...MICRO_ARCH,
  name: "test-micro-deep",
  vision: { ...MICRO_ARCH.vision, layers: 3 },
  text: { ...MICRO_ARCH.text, layers: 3 },
};
const METHODS = ["expert-pool", "expert-pool-trainable-router", "ago-no-routing", "lora"];
const RELATIVE = 1e-6;

/** Every value within `RELATIVE` of the largest magnitude in `expected`. */
const assertClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) =>
  assertCloseToScale(actual, expected, { tolerance: RELATIVE, label });

/** Loss and gradients of one contrastive step on 4 samples; counts read after it. */
async function stepGradients(
  model: ClipModel,
  method: MethodConfig,
  checkpoint: boolean,
): Promise<{ loss: number; grads: Map<string, Float32Array>; counts: Float32Array[] }> {
  const pool = poolWithNonZeroB(DEEP_ARCH, method);
  const linear = poolLinear(pool, { training: true, rng: new SeededRng(9) });
  const labels = [0, 1, 2, 3];
  const { value, grads } = tf.tidy(() => {
    const tokens = tf.tensor2d(
      microTokenize(["a cat", "a dog", "a car", "a cup"]),
      [4, 5],
      "int32",
    );
    const all = microPixels();
    const pixels = tf.gather(all, tf.tensor1d([0, 3, 6, 9], "int32"));
    const targets = tf.eye(labels.length) as tf.Tensor2D;
    return tf.variableGrads(() => {
      const text = encodeText(model, tokens, { linear, checkpoint });
      const image = encodeImage(model, pixels, { linear, checkpoint });
      return clipLoss(text, image, { logitScale: model.logitScale, targets });
    });
  });
  const out = new Map<string, Float32Array>();
  for (const [name, grad] of Object.entries(grads)) {
    out.set(name, Float32Array.from(await grad.data()));
  }
  const loss = (await value.data())[0]!;
  const counts = [];
  for (const adapter of pool.adapters.values()) {
    counts.push(Float32Array.from(await adapter.counts.data()));
  }
  tf.dispose([value, ...Object.values(grads)]);
  disposeAdapterPool(pool);
  return { loss, grads: out, counts };
}

Deno.test("checkpointed encoders give the gradients and counts of the plain forward, per method, on cpu and wasm", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const model = microModel(1, DEEP_ARCH);
    for (const name of METHODS) {
      const method = loadMethodConfig(name);
      const before = tf.memory().numTensors;
      const plain = await stepGradients(model, method, false);
      const checkpointed = await stepGradients(model, method, true);
      const label = `${backend} ${name}`;
      assert.equal(tf.memory().numTensors, before, label);
      assertClose([checkpointed.loss], [plain.loss], `${label} loss`);
      assert.deepEqual([...checkpointed.grads.keys()], [...plain.grads.keys()], label);
      // A, B of 36 modules, and the router's weight and bias when it learns.
      const perModule = method.router === "straight-through" ? 4 : 2;
      assert.equal(plain.grads.size, 36 * perModule, label);
      for (const [variable, grad] of plain.grads) {
        assert.ok(grad.some((g) => g !== 0), `${label} ${variable} has a gradient`);
        assertClose(checkpointed.grads.get(variable)!, grad, `${label} ${variable}`);
      }
      assert.deepEqual(checkpointed.counts, plain.counts, `${label} counts counted once`);
    }
    disposeModel(model);
  }
  await useBackend("cpu");
});

function assertSameTraining(actual: TrainResult, expected: TrainResult, label: string) {
  assertClose(actual.losses, expected.losses, `${label} losses`);
  assertClose(actual.agoLosses, expected.agoLosses, `${label} AGO`);
  assert.equal(actual.delta.modules.length, expected.delta.modules.length, label);
  expected.delta.modules.forEach((module, m) => {
    const other = actual.delta.modules[m]!;
    assert.deepEqual(other.counts, module.counts, `${label} ${module.name} counts`);
    assert.deepEqual(other.experts, module.experts, `${label} ${module.name} experts`);
    assertClose(other.down, module.down, `${label} ${module.name} A`);
    assertClose(other.up, module.up, `${label} ${module.name} B`);
  });
}

Deno.test("trainTask() checkpoints by default and a second task (AGO) equals training without, per method, on cpu and wasm", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const model = microModel(2, DEEP_ARCH);
    const data = microFewShotSet();
    for (const name of METHODS) {
      const method = loadMethodConfig(name);
      const first = await trainTask(model, data, microTrainOptions(method, { steps: 2 }));
      const options = microTrainOptions(method, { steps: 3, seed: 7, history: [first.delta] });
      const plain = await trainTask(model, data, { ...options, checkpoint: false });
      const perStep: number[] = [];
      const checkpointed = await trainTask(model, data, {
        ...options, // checkpointed by default
        onProgress: () => perStep.push(tf.memory().numTensors),
      });
      const label = `${backend} ${name}`;
      if (method.ago.enabled) assert.equal(plain.agoLosses.length, 3, label);
      assertSameTraining(checkpointed, plain, label);
      assert.ok(perStep.every((n) => n === perStep[0]), `${label} tensors: ${perStep.join(" ")}`);
    }
    disposeModel(model);
    data.pixels.dispose();
  }
  await useBackend("cpu");
});

Deno.test("a checkpointed training step peaks at less tensor memory than the plain one", async () => {
  await useBackend("cpu");
  const arch: ClipArch = {
    ...DEEP_ARCH,
    vision: { ...DEEP_ARCH.vision, layers: 6 },
    text: { ...DEEP_ARCH.text, layers: 6 },
  };
  const model = microModel(3, arch);
  const method = loadMethodConfig("expert-pool");
  const peak = async (checkpoint: boolean) => {
    const pool = createAdapterPool(arch, method, { rng: new SeededRng(3) });
    const linear = poolLinear(pool, { training: true, rng: new SeededRng(9) });
    const tokens = tf.tensor2d(
      microTokenize(["a cat", "a dog", "a car", "a cup"]),
      [4, 5],
      "int32",
    );
    const pixels = tf.tidy(() => tf.gather(microPixels(), tf.tensor1d([0, 3, 6, 9], "int32")));
    const targets = tf.eye(4) as tf.Tensor2D;
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() =>
        clipLoss(
          encodeText(model, tokens, { linear, checkpoint }),
          encodeImage(model, pixels, { linear, checkpoint }),
          { logitScale: model.logitScale, targets },
        )
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([tokens, pixels, targets]);
    disposeAdapterPool(pool);
    return profile.peakBytes;
  };
  const before = tf.memory().numTensors;
  const plain = await peak(false);
  const checkpointed = await peak(true);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(checkpointed < plain, `peak ${checkpointed} B checkpointed vs ${plain} B plain`);
  disposeModel(model);
});
