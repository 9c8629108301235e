import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { availableBackends, useBackend } from "../clip/backend.ts";
import { disposeModel } from "../clip/model.ts";
import { SeededRng } from "../io/rng.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import { applyTaskDelta } from "./delta.ts";
import {
  countVotes,
  expertMask,
  mostActivated,
  mostActivatedSelector,
  mostVotedMask,
  offTape,
  topKMask,
  voteCounts,
} from "./routing.ts";
import { type TrainOptions, type TrainResult, trainTask } from "./train.ts";
import { microFewShotSet, microModel, microTrainOptions } from "../../tests/micro_clip.ts";
import { assertCloseToScale } from "../../tests/tolerance.ts";

const BACKENDS = await availableBackends();

Deno.test("topKMask() keeps each row's k largest, equal values going to the lower index", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  const mask = tf.tidy(() => topKMask(tf.tensor2d([1, 5, 3, 5, 0, 2, 2, 2, 2, 2], [2, 5]), 3));
  assert.deepEqual([...mask.dataSync()], [0, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
  mask.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("on-device votes, batch mask and AGO columns equal the reference rule, ties included, on every backend", async () => {
  for (const backend of BACKENDS) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const rng = new SeededRng(11);
    for (let trial = 0; trial < 24; trial++) {
      const batch = 1 + (trial % 5);
      const experts = 12;
      const k = 1 + (trial % experts);
      // Quarter steps: many equal probabilities, so ties sit on the top-k boundary.
      const probs = Float32Array.from(
        { length: batch * experts },
        () => Math.floor(rng.uniform(0, 4)) / 4,
      );
      const votes = countVotes(probs, batch, { experts, k });
      const chosen = mostActivated(votes, k);
      const [deviceVotes, deviceMask, selector] = tf.tidy(() => {
        const v = offTape(() => voteCounts(tf.tensor2d(probs, [batch, experts]), k));
        return [v, mostVotedMask(v, k), mostActivatedSelector(v, k)];
      });
      const label = `${backend}, trial ${trial}`;
      assert.deepEqual([...await deviceVotes.data()], [...votes], label);
      assert.deepEqual([...await deviceMask.data()], [...expertMask(votes, k)], label);
      // One-hot rows of the chosen experts, ascending.
      const expected = chosen.flatMap((e) => Array.from({ length: experts }, (_, j) => +(j === e)));
      assert.deepEqual(selector.shape, [chosen.length, experts], label);
      assert.deepEqual([...await selector.data()], expected, label);
      tf.dispose([deviceVotes, deviceMask, selector]);
    }
    assert.equal(tf.memory().numTensors, before, backend);
  }
  await useBackend("cpu");
});

/** The micro task at the paper's rate: at large rates Adam's first steps turn float noise in
 * near-zero gradients into visible parameter differences between backends. */
function options(method: MethodConfig, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return microTrainOptions(method, { steps: 3, iterations: 3, lr: 2e-3, ...overrides });
}

/** Task 1, merged, then task 2 with task 1's AGO columns: every routing and AGO path runs. */
async function twoTasks(method: MethodConfig): Promise<[TrainResult, TrainResult]> {
  const model = microModel(2);
  const data = microFewShotSet();
  try {
    const first = await trainTask(model, data, options(method));
    applyTaskDelta(model, first.delta);
    const second = await trainTask(model, data, options(method, { history: [first.delta] }));
    return [first, second];
  } finally {
    disposeModel(model);
    data.pixels.dispose();
  }
}

Deno.test("a training step makes no synchronous read: trainTask never calls readSync (cpu, wasm)", async () => {
  const engine = tf.engine();
  const readSync = engine.readSync;
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    for (const name of ["expert-pool", "expert-pool-trainable-router", "ago-no-routing"]) {
      let reads = 0;
      engine.readSync = function (this: typeof engine, dataId: object) {
        reads++;
        return readSync.call(this, dataId);
      };
      try {
        const [, second] = await twoTasks(loadMethodConfig(name));
        assert.equal(second.agoLosses.length, 3);
      } finally {
        engine.readSync = readSync;
      }
      assert.equal(reads, 0, `${backend} ${name}: ${reads} synchronous reads`);
    }
  }
  await useBackend("cpu");
});

function assertRelativelyClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
) {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i]! - expected[i]!);
    assert.ok(
      difference <= 1e-4 * Math.abs(expected[i]!) + 1e-9,
      `${label}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/**
 * Within 1e-3 of the tensor's largest magnitude. Adam moves an entry by lr·g/(|g| + ε): where a
 * gradient is of the order of ε = 1e-8, the backends' float rounding (~1e-10 in g) moves it by
 * ~1e-4 of lr. Measured: 1.07e-4 on wasm, text.blocks.0.mlp.fc of task 2, an entry whose first
 * gradient is 5e-8. A wrong entry (a flipped or missing step) is off by about the scale itself.
 */
const assertTensorClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) =>
  assertCloseToScale(actual, expected, { tolerance: 1e-3, label });

Deno.test("a few training steps give the same losses and delta on cpu, wasm and webgpu", async () => {
  await useBackend("cpu");
  const method = loadMethodConfig("expert-pool");
  const reference = await twoTasks(method);
  for (const backend of BACKENDS.filter((name) => name !== "cpu")) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const results = await twoTasks(method);
    assert.equal(tf.memory().numTensors, before, backend);
    results.forEach((result, task) => {
      const expected = reference[task]!;
      const label = `${backend} task ${task + 1}`;
      assertRelativelyClose(result.losses, expected.losses, `${label} losses`);
      assertRelativelyClose(result.agoLosses, expected.agoLosses, `${label} AGO`);
      result.delta.modules.forEach((module, i) => {
        const want = expected.delta.modules[i]!;
        const where = `${label} ${module.name}`;
        assert.deepEqual(module.counts, want.counts, `${where} counts`);
        assert.deepEqual(module.experts, want.experts, `${where} experts`);
        assertTensorClose(module.down, want.down, `${where} down`);
        assertTensorClose(module.up, want.up, `${where} up`);
        assertTensorClose(module.agoRows, want.agoRows, `${where} AGO rows`);
        assert.deepEqual(module.router, want.router, `${where} router`);
      });
    });
  }
  await useBackend("cpu");
});
