/**
 * `trainTask` against the authors' released training code on `../shared/fixtures/train-ref/`
 * (its README says what was run): two tasks of a small CLIP (text 12 blocks of width 64, vision 2
 * blocks at 112 px), 20 images each, 16 steps per task, from the release's initial adapters and
 * token rows, dropout 0, the batch the whole set, AGO on task 2 against all 12 B columns of task 1.
 *
 * - wasm: both tasks, every step: loss and AGO term to 1e-4 relative, counts and merged experts
 *   exactly, merged updates dW to 1e-2 relative (Frobenius).
 * - cpu and webgpu run the same model about 10x slower, so they check a prefix: the first two
 *   steps of task 2, on the task-1 result of wasm, against the release. Step 1's AGO term is the
 *   one the gradient of |x| at 0 decides. webgpu runs where an adapter exists; on a software one
 *   (Mesa llvmpipe: 4.5 minutes for the two steps on a loaded 2-core machine) only when
 *   RANKONE_TEST_BACKENDS names webgpu: ago_test.ts and routing_test.ts cover its kernels.
 * Training runs without gradient checkpointing (one forward fewer per step); checkpoint_test.ts
 * shows it gives the same gradients bit for bit.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  availableBackends,
  type ConcreteBackend,
  useBackend,
  webgpuIsSoftware,
} from "../clip/backend.ts";
import { type ClipModel, disposeModel } from "../clip/model.ts";
import { loadClipModel } from "../clip/weights.ts";
import { npyToFloat32, npyToInt32, readNpy } from "../io/npy.ts";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { readAdapterFolder } from "./adapter_io.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import { applyTaskDelta, type ModuleDelta, type TaskDelta } from "./delta.ts";
import { cosineLearningRate } from "./optimizer.ts";
import { type TrainResult, trainTask } from "./train.ts";

const REF = "fixtures/train-ref";
const STEP_TOLERANCE = 1e-4;
const DW_TOLERANCE = 1e-2;

/**
 * A router near-tie that the release's float rounding and wasm's resolve differently. At step 10
 * of task 2 the text.blocks.7.attn.k router gives experts 6 and 9 (on the start token, the same
 * for every prompt) 0.0455476642 and 0.0455476791 on wasm: 4 float32 ulps, 3e-7 relative, while
 * the two implementations agree to about 2e-6. The release keeps 6 for that step, wasm takes 9
 * (expert 9 overtakes 6 for good from step 11 in both): 20 votes move from 6 to 9, and that
 * step's AGO term uses column 7 where the release uses 6 (running counts tie at 220 and the lower
 * index wins), 8.6e-4 off (the loss 1.9e-5). Either outcome is accepted, the flipped one with
 * exactly these consequences; every other module and step is held to the release.
 */
const NEAR_TIE = {
  task: 2,
  module: "text.blocks.7.attn.k",
  step: 10,
  from: 6,
  to: 9,
  /** One step's votes: each of the 20 prompts votes for the expert once. */
  votes: 20,
  agoTolerance: 1e-3,
};

interface ExpectedTask {
  task: string;
  losses: number[];
  ago: number[];
  lrs: number[];
  modules: Record<string, { experts: number[]; counts: number[] }>;
}

interface ReferenceConfig {
  template: string;
  classnames: Record<string, string[]>;
  tasks: string[];
  iterations: number;
  lr: number;
  min_lr: number;
  weight_decay: number;
  betas: [number, number];
  batch_size: number;
  method: {
    rank: number;
    top_k: number;
    merge_top: number;
    alpha: number;
    dropout: number;
    ago_weight: number;
    ago_critical: number;
  };
}

function refPath(relative: string): string {
  return `${sharedPath(REF)!}/${relative}`;
}

function readJson<T>(relative: string): T {
  return JSON.parse(Deno.readTextFileSync(refPath(relative))) as T;
}

/** The release's settings as a method config: the preset's defaults, AGO columns included. */
function referenceMethod(config: ReferenceConfig): MethodConfig {
  const { method } = config;
  return loadMethodConfig("expert-pool", {
    rank: method.rank,
    top_k: method.top_k,
    merge_top: method.merge_top,
    alpha: method.alpha,
    dropout: method.dropout,
    ago: { weight: method.ago_weight, critical: method.ago_critical },
  });
}

/** Trains task `t` (1 or 2) of the fixture for `steps` steps on `model` after `history`. */
async function trainReferenceTask(
  model: ClipModel,
  t: number,
  options: { steps: number; history: readonly TaskDelta[] },
): Promise<TrainResult> {
  const config = readJson<ReferenceConfig>("config.json");
  const classNames = config.classnames[String(t)]!;
  const pixelArray = await readNpy(refPath(`task${t}_pixels.npy`));
  const labels = npyToInt32(await readNpy(refPath(`task${t}_labels.npy`)), "labels");
  const tokenRows = npyToInt32(await readNpy(refPath(`task${t}_tokens.npy`)), "tokens");
  const context = model.arch.text.contextLength;
  // The release's token row of each class's prompt, in place of the tokenizer.
  const rowOf = new Map(classNames.map((name, c) => [
    config.template.replaceAll("{}", name),
    tokenRows.subarray(c * context, (c + 1) * context),
  ]));
  const tokenize = (texts: string[]) => {
    const ids = new Int32Array(texts.length * context);
    texts.forEach((text, i) => ids.set(rowOf.get(text)!, i * context));
    return ids;
  };
  const pixels = tf.tensor4d(
    npyToFloat32(pixelArray, "pixels"),
    pixelArray.shape as [number, number, number, number],
  );
  try {
    return await trainTask(model, { pixels, labels, classNames }, {
      method: referenceMethod(config),
      task: config.tasks[t - 1]!,
      template: config.template,
      tokenize,
      steps: options.steps,
      iterations: config.iterations,
      batchSize: config.batch_size,
      lr: config.lr,
      minLr: config.min_lr,
      weightDecay: config.weight_decay,
      betas: config.betas,
      seed: 42,
      history: options.history,
      initialAdapters: await readAdapterFolder(refPath(`init/task${t}`)),
      checkpoint: false,
    });
  } finally {
    pixels.dispose();
  }
}

/** The largest |actual - expected| / |expected| (0 / 0 counts as 0). */
function worstRelative(actual: readonly number[], expected: readonly number[]): number {
  assert.equal(actual.length, expected.length);
  return Math.max(
    0,
    ...expected.map((want, i) => {
      const difference = Math.abs(actual[i]! - want);
      return difference === 0 ? 0 : difference / Math.abs(want);
    }),
  );
}

/** Each step within `tolerance` relative, except `loose` steps within their own tolerance. */
function assertSteps(
  actual: readonly number[],
  expected: readonly number[],
  options: { label: string; loose?: Map<number, number> },
): void {
  assert.equal(actual.length, expected.length, options.label);
  expected.forEach((want, step) => {
    const tolerance = options.loose?.get(step) ?? STEP_TOLERANCE;
    const difference = Math.abs(actual[step]! - want);
    assert.ok(
      difference <= tolerance * Math.abs(want),
      `${options.label} at step ${step}: ${actual[step]} vs the release's ${want} ` +
        `(${(difference / Math.abs(want)).toExponential(2)} relative, allowed ${tolerance})`,
    );
  });
}

/** ‖ours − release‖_F / ‖release‖_F for a module's merged update, release layout [d_out, d_in]. */
async function mergedUpdateError(module: ModuleDelta, options: { t: number; scale: number }) {
  const want = npyToFloat32(
    await readNpy(refPath(`expected/task${options.t}/dW/${module.name}.npy`)),
    module.name,
  );
  const { dIn, dOut } = module;
  const m = module.experts.length;
  let difference = 0;
  let norm = 0;
  for (let o = 0; o < dOut; o++) {
    for (let i = 0; i < dIn; i++) {
      let ours = 0;
      for (let j = 0; j < m; j++) ours += module.down[i * m + j]! * module.up[j * dOut + o]!;
      const release = want[o * dIn + i]!;
      difference += (ours * options.scale - release) ** 2;
      norm += release ** 2;
    }
  }
  return Math.sqrt(difference / norm);
}

/** The release's counts of NEAR_TIE's module with that step's votes moved from 6 to 9. */
function flippedCounts(counts: readonly number[]): number[] {
  const { from, to, votes } = NEAR_TIE;
  return counts.map((count, expert) =>
    expert === from ? count - votes : expert === to ? count + votes : count
  );
}

/** Counts and merged experts exactly, merged updates to 1e-2; returns whether the near-tie flipped. */
async function assertModules(
  result: TrainResult,
  options: { t: number; expected: ExpectedTask; label: string },
): Promise<boolean> {
  const { delta } = result;
  assert.equal(delta.modules.length, Object.keys(options.expected.modules).length);
  let flipped = false;
  for (const module of delta.modules) {
    const want = options.expected.modules[module.name]!;
    const where = `${options.label} ${module.name}`;
    const counts = Array.from(module.counts);
    if (
      options.t === NEAR_TIE.task && module.name === NEAR_TIE.module &&
      JSON.stringify(counts) === JSON.stringify(flippedCounts(want.counts))
    ) {
      flipped = true;
    } else {
      assert.deepEqual(counts, want.counts, `${where}: activation counts`);
    }
    assert.deepEqual(module.experts, want.experts, `${where}: merged experts`);
    const error = await mergedUpdateError(module, { t: options.t, scale: delta.scale });
    assert.ok(error <= DW_TOLERANCE, `${where}: merged update ${error.toExponential(2)} off`);
  }
  return flipped;
}

async function loadReferenceModel(backend: ConcreteBackend): Promise<ClipModel> {
  await useBackend(backend);
  return (await loadClipModel(refPath("model"))).model;
}

let task1Training: Promise<TrainResult> | null = null;

/** Task 1 trained on wasm from the release's initial adapters, once for every test here. */
function task1OnWasm(): Promise<TrainResult> {
  task1Training ??= (async () => {
    const model = await loadReferenceModel("wasm");
    try {
      return await trainReferenceTask(model, 1, { steps: 16, history: [] });
    } finally {
      disposeModel(model);
    }
  })();
  return task1Training;
}

Deno.test({
  name:
    "trainTask() equals the release's two tasks on wasm: loss and AGO at every step, counts, merged experts and updates",
  ...needsShared(REF),
  fn: async () => {
    const before = tf.memory().numTensors;
    const summary = readJson<{ tasks: ExpectedTask[] }>("expected/summary.json");
    const config = readJson<ReferenceConfig>("config.json");
    const schedule = { lr: config.lr, minLr: config.min_lr, iterations: config.iterations };
    const task1 = await task1OnWasm();
    const model = await loadReferenceModel("wasm");
    applyTaskDelta(model, task1.delta);
    const task2 = await trainReferenceTask(model, 2, { steps: 16, history: [task1.delta] });
    disposeModel(model);
    for (const { lrs } of summary.tasks) {
      const ours = lrs.map((_, step) => cosineLearningRate(step, schedule));
      assert.ok(worstRelative(ours, lrs) < 1e-12, "the cosine schedule");
    }
    for (const [index, result] of [task1, task2].entries()) {
      const t = index + 1;
      const expected = summary.tasks[index]!;
      const label = `wasm task ${t}`;
      const flipped = await assertModules(result, { t, expected, label });
      const loose = new Map(flipped ? [[NEAR_TIE.step, NEAR_TIE.agoTolerance]] : []);
      assertSteps(result.losses, expected.losses, { label: `${label} loss` });
      assertSteps(result.agoLosses, expected.ago, { label: `${label} AGO term`, loose });
    }
    assert.equal(tf.memory().numTensors, before);
    await useBackend("cpu");
  },
});

const PREFIX_BACKENDS = (await availableBackends()).filter((backend) => backend !== "wasm");
const WEBGPU_ASKED = (Deno.env.get("RANKONE_TEST_BACKENDS") ?? "").split(",")
  .some((name) => name.trim() === "webgpu");
const SLOW_WEBGPU = await webgpuIsSoftware() === true && !WEBGPU_ASKED;

for (const backend of PREFIX_BACKENDS) {
  const skipped = backend === "webgpu" && SLOW_WEBGPU;
  Deno.test({
    name:
      `trainTask() equals the release's first two steps of task 2 on ${backend}: loss, and the AGO term the gradient of |x| at 0 decides` +
      (skipped ? " (software adapter: RANKONE_TEST_BACKENDS=webgpu runs it)" : ""),
    ignore: skipped || needsShared(REF).ignore,
    fn: async () => {
      const before = tf.memory().numTensors;
      const summary = readJson<{ tasks: ExpectedTask[] }>("expected/summary.json");
      const task1 = await task1OnWasm();
      const model = await loadReferenceModel(backend);
      applyTaskDelta(model, task1.delta);
      const task2 = await trainReferenceTask(model, 2, { steps: 2, history: [task1.delta] });
      disposeModel(model);
      const expected = summary.tasks[1]!;
      assert.equal(task2.agoLosses[0], 0); // B starts at zero
      assertSteps(task2.losses, expected.losses.slice(0, 2), { label: `${backend} loss` });
      assertSteps(task2.agoLosses, expected.ago.slice(0, 2), { label: `${backend} AGO term` });
      assert.equal(tf.memory().numTensors, before);
      await useBackend("cpu");
    },
  });
}
