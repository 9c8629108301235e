import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { disposeModel } from "../clip/model.ts";
import { UserError } from "../errors.ts";
import { SeededRng } from "../io/rng.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import {
  MICRO_ARCH,
  microFewShotSet,
  microModel,
  microTrainOptions,
} from "../../tests/micro_clip.ts";
import { onEveryBackend } from "../../tests/backends.ts";
import { applyTaskDelta } from "./delta.ts";
import { createAdapterPool, disposeAdapterPool } from "./pool.ts";
import { denseSetterFor } from "./slots.ts";
import { countTrainableParameters } from "./params.ts";
import { normalizeRows, type TrainResult, trainTask } from "./train.ts";

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

Deno.test("trainTask() lowers the loss of a micro CLIP; tensors stay flat across steps", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const data = microFewShotSet();
  const before = tf.memory().numTensors;
  const perStep: number[] = [];
  const result = await trainTask(model, data, {
    ...microTrainOptions(loadMethodConfig("expert-pool")),
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
    const data = microFewShotSet();
    const first = await trainTask(
      model,
      data,
      microTrainOptions(loadMethodConfig("expert-pool"), { steps: 4 }),
    );
    const second = await trainTask(
      model,
      data,
      microTrainOptions(loadMethodConfig("expert-pool"), { steps: 4 }),
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
  const data = microFewShotSet();
  const method = loadMethodConfig("expert-pool");
  const task1 = await trainTask(model, data, microTrainOptions(method, { steps: 4 }));
  assert.deepEqual(task1.agoLosses, []);
  const weightBefore = model.linears.get("visual.blocks.0.attn.q")!.weight.dataSync().slice();
  applyTaskDelta(model, task1.delta);
  const weightAfter = model.linears.get("visual.blocks.0.attn.q")!.weight.dataSync();
  assert.ok(weightAfter.some((w, i) => w !== weightBefore[i]));
  const task2 = await trainTask(
    model,
    data,
    microTrainOptions(method, { steps: 4, history: [task1.delta] }),
  );
  assert.equal(task2.agoLosses.length, 4);
  assert.equal(task2.agoLosses[0], 0); // B starts at zero
  assert.ok(task2.agoLosses[3]! > 0);
  const noAgo = await trainTask(
    model,
    data,
    microTrainOptions(loadMethodConfig("expert-pool-no-ago"), {
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
  const data = microFewShotSet();
  const frozen = loadMethodConfig("expert-pool");
  const initial = createAdapterPool(MICRO_ARCH, frozen, { rng: new SeededRng(42).fork() });
  const initialBias = initial.adapters.get("visual.blocks.0.attn.q")!.routerBias!.dataSync()
    .slice();
  disposeAdapterPool(initial);
  const routerBias = async (config: MethodConfig) =>
    (await trainTask(model, data, microTrainOptions(config, { steps: 3 }))).delta.modules
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
  const data = microFewShotSet();
  const before = tf.memory().numTensors;
  const lora = await trainTask(model, data, microTrainOptions(loadMethodConfig("lora")));
  assert.equal(lora.delta.modules[0]!.experts.length, 12);
  assert.equal(lora.delta.modules[0]!.router, null);
  assert.ok(mean(lora.losses.slice(-3)) < mean(lora.losses.slice(0, 3)));
  const full = await trainTask(
    model,
    data,
    microTrainOptions(loadMethodConfig("full-finetune"), { lr: 0.01 }),
  );
  assert.ok(mean(full.losses.slice(-3)) < mean(full.losses.slice(0, 3)));
  assert.equal(tf.memory().numTensors, before);
  applyTaskDelta(model, full.delta, { setDense: denseSetterFor(model) });
  assert.equal(tf.memory().numTensors, before);
  const projection = full.delta.dense.find((d) => d.name === "text.projection")!;
  assert.deepEqual([...model.text.projection.dataSync()], [...projection.data]);
  assert.deepEqual(
    (await trainTask(model, data, microTrainOptions(loadMethodConfig("zero-shot")))).losses,
    [],
  );
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("trainTask() reports how it ran apart from the loss curve: 4 steps at batch 4, the rate after step 1, tf.profile's peak, which holds the adapters and AdamW's moments (cpu and wasm)", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const model = microModel(1);
    const data = microFewShotSet();
    const method = loadMethodConfig("expert-pool");
    const before = tf.memory().numBytes;
    // tf.profile sees the same peak (it snapshots the byte count after every kernel).
    const profile = await tf.profile(async () => {
      const options = microTrainOptions(method, { steps: 4, iterations: 3 });
      return await trainTask(model, data, options) as unknown as tf.Tensor;
    });
    const { stats, losses } = profile.result as unknown as TrainResult;
    assert.equal(stats?.peakTensorBytes, profile.peakBytes, `${backend} peak`);
    assert.equal(losses.length, 4);
    assert.ok(stats !== null);
    assert.equal(stats.measuredOn.backend, backend);
    assert.equal(stats.steps, 4);
    assert.equal(stats.batchSize, 4);
    assert.equal(stats.checkpoint, true);
    assert.ok(stats.firstStepSeconds > 0 && stats.firstStepSeconds < stats.seconds);
    const steady = 3 / (stats.seconds - stats.firstStepSeconds);
    assert.ok(Math.abs(stats.stepsPerSecond! / steady - 1) < 1e-9, backend);
    assert.ok(Math.abs(stats.imagesPerSecond! / (4 * steady) - 1) < 1e-9, backend);
    // Adapters, AdamW's two moments and the step's activations, above the model held before.
    const trainable = countTrainableParameters(MICRO_ARCH, method).total;
    assert.ok(stats.peakTensorBytes - before > 3 * 4 * trainable, `${backend} peak`);
    if (backend === "wasm") {
      assert.equal(stats.backendMemory?.kind, "wasm-heap");
      assert.ok(stats.backendMemory!.bytes >= stats.peakTensorBytes);
    } else {
      assert.equal(stats.backendMemory, null);
    }
    const zeroShot = await trainTask(model, data, microTrainOptions(loadMethodConfig("zero-shot")));
    assert.equal(zeroShot.stats, null);
    disposeModel(model);
    data.pixels.dispose();
  }
  await useBackend("cpu");
});

Deno.test("a NaN loss is a UserError naming the task and step", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const data = microFewShotSet();
  const broken = { ...data, pixels: tf.fill([12, 3, 8, 8], NaN) as tf.Tensor4D };
  await assert.rejects(
    () =>
      trainTask(model, broken, microTrainOptions(loadMethodConfig("expert-pool"), { task: "DTD" })),
    (error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /Training task "DTD" diverged at step 1\/12: loss is NaN/);
      return true;
    },
  );
  disposeModel(model);
  tf.dispose([data.pixels, broken.pixels]);
});

Deno.test("normalizeRows() has torch's gradient where feature entries are exactly 0 (tf.norm goes through tf.abs), on every backend", async () => {
  await onEveryBackend(async (backend) => {
    // d/dx sum(w ⊙ x/‖x‖) = (w − u (u·w)) / ‖x‖, u = x/‖x‖:
    //   x = (3, 0, -4), w = (1, 2, 3):  u·w = -1.8 -> (2.08, 2, 1.56) / 5
    //   x = (0, 0, 2),  w = (-1, 1, 2): u·w = 2    -> (-1, 1, 0) / 2
    const x = tf.tensor2d([3, 0, -4, 0, 0, 2], [2, 3]);
    const w = tf.tensor2d([1, 2, 3, -1, 1, 2], [2, 3]);
    const gradient = tf.tidy(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(normalizeRows(t as tf.Tensor2D), w)))(x)
    );
    const expected = [0.416, 0.4, 0.312, -0.5, 0.5, 0];
    (await gradient.data()).forEach((value, i) =>
      assert.ok(Math.abs(value - expected[i]!) < 1e-6, `${backend}[${i}]: ${value}`)
    );
    tf.dispose([x, w, gradient]);
  });
});

Deno.test("full fine-tuning trains on wasm too: the token embedding's gradient needs no UnsortedSegmentSum", async () => {
  await useBackend("wasm");
  const model = microModel(5);
  const data = microFewShotSet();
  const full = await trainTask(
    model,
    data,
    microTrainOptions(loadMethodConfig("full-finetune"), { lr: 0.01, steps: 4 }),
  );
  const embedding = full.delta.dense.find((d) => d.name === "text.token_embedding")!;
  const before = await model.text.tokenEmbedding.data();
  assert.ok(embedding.data.some((value, i) => value !== before[i]), "the embedding moved");
  disposeModel(model);
  data.pixels.dispose();
});

Deno.test("a method's lr_scale multiplies the pipeline's learning rate and minimum: 0.5 at lr 0.02 trains exactly as lr 0.01", async () => {
  await useBackend("cpu");
  const model = microModel(6);
  const data = microFewShotSet();
  const full = loadMethodConfig("full-finetune");
  const train = (config: MethodConfig, lr: number) =>
    trainTask(model, data, microTrainOptions(config, { lr, minLr: lr / 10, steps: 4 }));
  const scaled = await train({ ...full, lrScale: 0.5 }, 0.02);
  const plain = await train({ ...full, lrScale: undefined }, 0.01);
  assert.deepEqual(scaled.losses, plain.losses);
  assert.deepEqual(scaled.delta.dense, plain.delta.dense);
  assert.ok(full.lrScale !== undefined && full.lrScale < 0.1, "full fine-tuning steps smaller");
  disposeModel(model);
  data.pixels.dispose();
});
