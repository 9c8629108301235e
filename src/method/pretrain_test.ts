import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { disposeModel } from "../clip/model.ts";
import {
  MICRO_CLASSES,
  MICRO_LABELS,
  microModel,
  microPixels,
  microTokenize,
} from "../../tests/micro_clip.ts";
import { pretrainClip, pretrainLearningRate, type PretrainOptions } from "./pretrain.ts";

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The micro task as image-caption pairs: every step sees all 12 images and their captions. */
function microPretrainOptions(overrides: Partial<PretrainOptions> = {}): PretrainOptions {
  const pixels = microPixels();
  const data = pixels.dataSync() as Float32Array;
  pixels.dispose();
  return {
    steps: 20,
    lr: 0.02,
    minLr: 0.002,
    warmup: 3,
    weightDecay: 0.1,
    betas: [0.9, 0.98],
    batch: () => ({
      pixels: data,
      captions: MICRO_LABELS.map((label) => `a photo of a ${MICRO_CLASSES[label]}.`),
    }),
    tokenize: (texts) => microTokenize([...texts]),
    ...overrides,
  };
}

Deno.test("pretrainLearningRate() warms up linearly to lr, then falls by a cosine to minLr at the last step", () => {
  const schedule = { steps: 11, lr: 1, minLr: 0.1, warmup: 2 };
  assert.equal(pretrainLearningRate(0, schedule), 0.5);
  assert.equal(pretrainLearningRate(1, schedule), 1);
  assert.equal(pretrainLearningRate(2, schedule), 1);
  assert.ok(Math.abs(pretrainLearningRate(6, schedule) - 0.55) < 1e-12);
  assert.ok(Math.abs(pretrainLearningRate(10, schedule) - 0.1) < 1e-12);
});

Deno.test("pretrainClip() trains every weight of a micro CLIP: the loss falls, tensors stay flat, reruns repeat it", async () => {
  await useBackend("cpu");
  const run = async () => {
    const model = microModel(2);
    const before = tf.memory().numTensors;
    const projection = model.text.projection.dataSync().slice();
    const perStep: number[] = [];
    const result = await pretrainClip(model, {
      ...microPretrainOptions(),
      onProgress: () => perStep.push(tf.memory().numTensors),
    });
    assert.ok(perStep.every((n) => n === perStep[0]), `tensors per step: ${perStep.join(" ")}`);
    assert.equal(tf.memory().numTensors, before);
    assert.notDeepEqual(model.text.projection.dataSync(), projection);
    disposeModel(model);
    return result;
  };
  const first = await run();
  assert.equal(first.losses.length, 20);
  // 4 distinct captions of 3 images each: the best loss is ln 3 = 1.10 per direction.
  assert.ok(
    mean(first.losses.slice(-3)) < 0.75 * mean(first.losses.slice(0, 3)),
    first.losses.map((loss) => loss.toFixed(3)).join(" "),
  );
  assert.deepEqual((await run()).losses, first.losses);
});

Deno.test("pretrainClip() clamps the logit scale at ln 100 after each step, and stops after stopAfter steps", async () => {
  await useBackend("cpu");
  const model = microModel(3);
  model.logitScale.dispose();
  // Far above the clamp: one small step cannot bring it below, the clamp puts it at 100.
  model.logitScale = tf.scalar(Math.log(400));
  const result = await pretrainClip(model, microPretrainOptions({ stopAfter: 1 }));
  assert.equal(result.losses.length, 1);
  assert.ok(Math.abs(result.temperature - 100) < 1e-3, `temperature ${result.temperature}`);
  disposeModel(model);
});
