import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../clip/arch.ts";
import { useBackend } from "../clip/backend.ts";
import { buildModel, type ClipModel, disposeModel, parameterShapes } from "../clip/model.ts";
import { UserError } from "../errors.ts";
import { SeededRng } from "../io/rng.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import { applyTaskDelta } from "./delta.ts";
import { createAdapterPool, disposeAdapterPool } from "./pool.ts";
import { denseSetterFor } from "./slots.ts";
import { type FewShotSet, type TrainOptions, trainTask } from "./train.ts";

/** A CLIP small enough to train for a few steps in a test: 5 image tokens, 5 text tokens. */
const ARCH: ClipArch = {
  name: "test-micro",
  embedDim: 8,
  vision: { imageSize: 8, patchSize: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
  text: { contextLength: 5, vocabSize: 12, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
};
const CLASSES = ["cat", "dog", "car", "cup"];

function microModel(seed: number): ClipModel {
  const rng = new SeededRng(seed);
  const params = new Map<string, tf.Tensor>();
  for (const [name, shape] of parameterShapes(ARCH)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    const isNormWeight = /ln_\w+\.weight$/.test(name);
    for (let i = 0; i < size; i++) values[i] = isNormWeight ? 1 : rng.uniform(-0.3, 0.3);
    if (name === "logit_scale") values[0] = Math.log(10);
    params.set(name, tf.tensor(values, shape));
  }
  return buildModel(ARCH, params);
}

/** Word i of `CLASSES` -> token i + 1; start 10, end 11 (the highest id). */
function tokenize(texts: string[]): Int32Array {
  const ids = new Int32Array(texts.length * ARCH.text.contextLength);
  texts.forEach((text, row) => {
    const word = CLASSES.findIndex((name) => text.includes(name));
    ids.set([10, word + 1, 11], row * ARCH.text.contextLength);
  });
  return ids;
}

/** 3 images per class: a class-specific colour plus noise. */
function fewShotSet(): FewShotSet {
  const rng = new SeededRng(5);
  const labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];
  const pixels = new Float32Array(labels.length * 3 * 64);
  labels.forEach((label, n) => {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 64; p++) {
        pixels[(n * 3 + c) * 64 + p] = ((label * 3 + c) % 5) / 2 - 1 + rng.uniform(-0.2, 0.2);
      }
    }
  });
  return { pixels: tf.tensor4d(pixels, [labels.length, 3, 8, 8]), labels, classNames: CLASSES };
}

function options(method: MethodConfig, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    method,
    task: "micro",
    template: "a photo of a {}.",
    tokenize,
    steps: 12,
    iterations: 11,
    batchSize: 4,
    lr: 0.05,
    minLr: 1e-6,
    weightDecay: 0.01,
    betas: [0.9, 0.999],
    seed: 42,
    ...overrides,
  };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

Deno.test("trainTask() lowers the loss of a micro CLIP; tensors stay flat across steps", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const data = fewShotSet();
  const before = tf.memory().numTensors;
  const perStep: number[] = [];
  const result = await trainTask(model, data, {
    ...options(loadMethodConfig("expert-pool")),
    onProgress: () => perStep.push(tf.memory().numTensors),
  });
  assert.equal(result.losses.length, 12);
  assert.ok(
    mean(result.losses.slice(-3)) < 0.8 * mean(result.losses.slice(0, 3)),
    `losses ${result.losses.map((l) => l.toFixed(3)).join(" ")}`,
  );
  assert.ok(perStep.every((n) => n === perStep[0]), `tensors per step: ${perStep.join(" ")}`);
  assert.equal(tf.memory().numTensors, before);
  // Every module saw 12 steps x 4 samples x 8 votes; 4 experts merged per module.
  const module = result.delta.modules[0]!;
  assert.equal(module.counts.reduce((a, b) => a + b, 0), 12 * 4 * 8);
  assert.equal(module.experts.length, 4);
  assert.equal(result.delta.modules.length, 12); // 6 linears x 2 encoders x 1 block
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("trainTask() gives the same losses twice for a fixed seed (cpu and wasm)", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const model = microModel(1);
    const data = fewShotSet();
    const first = await trainTask(
      model,
      data,
      options(loadMethodConfig("expert-pool"), { steps: 4 }),
    );
    const second = await trainTask(
      model,
      data,
      options(loadMethodConfig("expert-pool"), { steps: 4 }),
    );
    assert.deepEqual(first.losses, second.losses, backend);
    assert.deepEqual(first.delta, second.delta, backend);
    disposeModel(model);
    data.pixels.dispose();
  }
  await useBackend("cpu");
});

Deno.test("a second task gets an AGO term from the first; merging changes the model", async () => {
  await useBackend("cpu");
  const model = microModel(2);
  const data = fewShotSet();
  const method = loadMethodConfig("expert-pool");
  const task1 = await trainTask(model, data, options(method, { steps: 4 }));
  assert.deepEqual(task1.agoLosses, []);
  const weightBefore = model.linears.get("visual.blocks.0.attn.q")!.weight.dataSync().slice();
  applyTaskDelta(model, task1.delta);
  const weightAfter = model.linears.get("visual.blocks.0.attn.q")!.weight.dataSync();
  assert.ok(weightAfter.some((w, i) => w !== weightBefore[i]));
  const task2 = await trainTask(model, data, options(method, { steps: 4, history: [task1.delta] }));
  assert.equal(task2.agoLosses.length, 4);
  assert.equal(task2.agoLosses[0], 0); // B starts at zero
  assert.ok(task2.agoLosses[3]! > 0);
  const noAgo = await trainTask(
    model,
    data,
    options(loadMethodConfig("expert-pool-no-ago"), {
      steps: 2,
      history: [task1.delta],
    }),
  );
  assert.deepEqual(noAgo.agoLosses, []);
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("the router stays at its initialisation unless the variant trains it", async () => {
  await useBackend("cpu");
  const model = microModel(3);
  const data = fewShotSet();
  const frozen = loadMethodConfig("expert-pool");
  const initial = createAdapterPool(ARCH, frozen, { rng: new SeededRng(42).fork() });
  const initialBias = initial.adapters.get("visual.blocks.0.attn.q")!.routerBias!.dataSync()
    .slice();
  disposeAdapterPool(initial);
  const routerBias = async (config: MethodConfig) =>
    (await trainTask(model, data, options(config, { steps: 3 }))).delta.modules
      .find((m) => m.name === "visual.blocks.0.attn.q")!.router!.bias;
  assert.deepEqual([...await routerBias(frozen)], [...initialBias]);
  const learned = await routerBias(loadMethodConfig("expert-pool-trainable-router"));
  assert.ok(learned.some((b, i) => Math.abs(b - initialBias[i]!) > 1e-4));
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("lora and full-finetune variants train too; full-finetune's delta rebuilds its model", async () => {
  await useBackend("cpu");
  const model = microModel(4);
  const data = fewShotSet();
  const before = tf.memory().numTensors;
  const lora = await trainTask(model, data, options(loadMethodConfig("lora")));
  assert.equal(lora.delta.modules[0]!.experts.length, 12);
  assert.equal(lora.delta.modules[0]!.router, null);
  assert.ok(mean(lora.losses.slice(-3)) < mean(lora.losses.slice(0, 3)));
  const full = await trainTask(
    model,
    data,
    options(loadMethodConfig("full-finetune"), { lr: 0.01 }),
  );
  assert.ok(mean(full.losses.slice(-3)) < mean(full.losses.slice(0, 3)));
  assert.equal(tf.memory().numTensors, before);
  applyTaskDelta(model, full.delta, { setDense: denseSetterFor(model) });
  assert.equal(tf.memory().numTensors, before);
  const projection = full.delta.dense.find((d) => d.name === "text.projection")!;
  assert.deepEqual([...model.text.projection.dataSync()], [...projection.data]);
  assert.deepEqual(
    (await trainTask(model, data, options(loadMethodConfig("zero-shot")))).losses,
    [],
  );
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("a NaN loss is a UserError naming the task and step", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const data = fewShotSet();
  const broken = { ...data, pixels: tf.fill([12, 3, 8, 8], NaN) as tf.Tensor4D };
  await assert.rejects(
    () => trainTask(model, broken, options(loadMethodConfig("expert-pool"), { task: "DTD" })),
    (error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /Training task "DTD" diverged at step 1\/12: loss is NaN/);
      return true;
    },
  );
  disposeModel(model);
  tf.dispose([data.pixels, broken.pixels]);
});
