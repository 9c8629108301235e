/**
 * Training step time of the expert pool per backend, as trainTask takes a step of a second task
 * (text encoder cut at the end token, both encoders checkpointed, the AGO term against a bank of
 * earlier columns, AdamW), and where it goes: vision encoder, text encoder (each forward +
 * backward with adapters), the adapters' own cost (forward with adapters minus the plain forward,
 * scaled to forward + backward), and the optimiser update. The step and the text pass are also
 * timed on the full context (the encoder before the end-token cut), alternating with the cut
 * ones. Models have generated weights (nothing is loaded): the tiny CLIP, and ViT-B/16's shapes.
 *
 *   deno run -A bench/train.ts [--quick] [--backends cpu,wasm] [--cases ViT-B-16:32] [--reps 3]
 *     [--out results/bench/train.json]
 *
 * `--quick`: the tiny model only, batch 4, one rep, cpu (a smoke test of this file). Cases named
 * with `--cases` run even where they are skipped by default (ViT-B/16 on cpu or on a software
 * WebGPU adapter).
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  availableBackends,
  backendBytes,
  compiledPipelines,
  type ConcreteBackend,
  countTransfers,
  type Transfers,
  useBackend,
  webgpuAdapter,
} from "../src/clip/backend.ts";
import type { ClipArch } from "../src/clip/arch.ts";
import { type LinearApply, plainLinear } from "../src/clip/linear.ts";
import {
  type ClipModel,
  disposeModel,
  encodeImage,
  encodeText,
  textTokens,
} from "../src/clip/model.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { randomClipModel } from "../src/clip/synthetic.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { SeededRng } from "../src/io/rng.ts";
import { agoLoss } from "../src/method/ago.ts";
import { loadMethodConfig } from "../src/method/config.ts";
import { AdamW } from "../src/method/optimizer.ts";
import {
  createAdapterPool,
  disposeAdapterPool,
  poolLinear,
  trainableVariables,
} from "../src/method/pool.ts";
import { clipLoss } from "../src/method/train.ts";
import { randomAgoBank } from "../tests/micro_clip.ts";
import { BATCH_PROMPT_END, tokenRows } from "./prompts.ts";

const USAGE = "usage: deno run -A bench/train.ts [--quick] [--backends cpu,wasm] " +
  "[--cases ARCH:BATCH,...] [--reps N] [--out FILE]";

export interface Case {
  arch: string;
  batch: number;
}

export interface Measurement {
  backend: ConcreteBackend;
  /** The WebGPU adapter, as it describes itself; null on other backends. */
  adapter: string | null;
  arch: string;
  batch: number;
  /** Positions the text encoder runs (the longest prompt's end token + 1) of `contextLength`. */
  textPositions: number;
  contextLength: number;
  /** Milliseconds, median over reps. */
  stepMs: number;
  visionMs: number;
  textMs: number;
  adaptersMs: number;
  optimizerMs: number;
  /** Each part's share of the step (the rest: loss, AGO, data, bookkeeping). */
  shares: { vision: number; text: number; adapters: number; optimizer: number };
  /** The step and the text pass on all `contextLength` positions: the encoder before the cut. */
  fullContext: { stepMs: number; textMs: number };
  /** Full context over cut: how much faster the cut makes the step and the text pass. */
  cutSpeedup: { step: number; text: number };
  /** Most tensor memory held at once during one step (weights included), in MiB. */
  peakMiB: number;
  /**
   * The backend's own figure after two steps, in MiB: WebGPU's buffer pool or the wasm heap, both
   * high-water marks of what the backend holds (weights included; null on cpu).
   */
  backendMiB: number | null;
  /** What the second step moves between host and device: reads (loss, AGO term), host writes. */
  transfers: Transfers;
  /**
   * WebGPU: compiled pipelines after two steps each with and without the cut, and after the timed
   * steps; equal when no step compiles a shader. Null on other backends.
   */
  pipelines: { afterWarmup: number; afterSteps: number } | null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median ms of `body` (which must read its result back) over `reps` runs after one warm-up. */
async function timeMs(reps: number, body: () => Promise<void>): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Median ms of `first` and of `second` over `reps` runs each, taken in turn (first, second, first,
 * ...) so that a load change on a shared machine affects both alike. Both are warmed up already.
 */
async function timeAlternately(
  reps: number,
  first: () => Promise<void>,
  second: () => Promise<void>,
): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < reps; i++) {
    for (const [index, body] of [first, second].entries()) {
      const start = performance.now();
      await body();
      times[index]!.push(performance.now() - start);
    }
  }
  return [median(times[0]), median(times[1])];
}

/**
 * trainTask's step of a second task on generated weights, ready to time: `step` takes one
 * optimiser step as trainTask takes it (reads the loss and the AGO term, queues the update).
 */
interface BenchedStep {
  arch: ClipArch;
  model: ClipModel;
  linear: LinearApply;
  variables: tf.Variable[];
  optimizer: AdamW;
  pixels: tf.Tensor4D;
  /** Token ids cut at the batch's last end token, and on the whole context. */
  cutTokens: tf.Tensor2D;
  fullTokens: tf.Tensor2D;
  encode: { text: (tokens: tf.Tensor2D) => tf.Tensor2D; image: () => tf.Tensor2D };
  step(tokens: tf.Tensor2D): Promise<void>;
  /** Waits for the queued update. */
  settle(): Promise<void>;
  dispose(): void;
}

/** A case to time: an architecture (a preset's name, or the arch itself) and a batch size. */
type StepCase = { arch: string | ClipArch; batch: number };

function benchedStep(testCase: StepCase): BenchedStep {
  const arch = typeof testCase.arch === "string" ? loadArchPreset(testCase.arch) : testCase.arch;
  const model: ClipModel = randomClipModel(arch, { seed: 0 });
  const method = loadMethodConfig("expert-pool");
  const pool = createAdapterPool(arch, method, { rng: new SeededRng(0) });
  // A second task's bank: the first task's B columns, all r per module (ago.past: all, the default).
  const bank = randomAgoBank(pool, { seed: 3, bound: 0.1, columns: method.rank });
  const variables = trainableVariables(pool);
  const optimizer = new AdamW(variables, { weightDecay: 0.01, betas: [0.9, 0.999] });
  const linear = poolLinear(pool, { training: true, rng: new SeededRng(1) });
  const { batch } = testCase;
  const size = arch.vision.imageSize;
  const context = arch.text.contextLength;
  const pixels = tf.randomNormal([batch, 3, size, size], 0, 1, "float32", 2) as tf.Tensor4D;
  const ids = tokenRows(arch, batch, Math.min(BATCH_PROMPT_END, context - 1));
  const cutTokens = textTokens(ids, context);
  const fullTokens = tf.tensor2d(ids, [batch, context], "int32");
  const targets = tf.eye(batch) as tf.Tensor2D;
  // As trainTask runs the expert pool: per-block gradient checkpointing.
  const encode = {
    text: (tokens: tf.Tensor2D) => encodeText(model, tokens, { linear, checkpoint: true }),
    image: () => encodeImage(model, pixels, { linear, checkpoint: true }),
  };
  // The update is queued, not awaited: the next step's read waits for it, as in training.
  const step = async (tokens: tf.Tensor2D) => {
    let agoTerm: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const loss = clipLoss(encode.text(tokens), encode.image(), {
        logitScale: model.logitScale,
        targets,
      });
      const ago = agoLoss(pool, bank, method.ago)!;
      agoTerm = tf.keep(tf.clone(ago));
      return tf.add(loss, tf.mul(ago, method.ago.weight));
    }, variables);
    await value.data();
    await agoTerm!.data();
    optimizer.applyGradients(grads, 1e-3);
    tf.dispose([value, agoTerm!, ...Object.values(grads)]);
  };
  return {
    arch,
    model,
    linear,
    variables,
    optimizer,
    pixels,
    cutTokens,
    fullTokens,
    encode,
    step,
    settle: async () => void await variables[0]!.data(),
    dispose() {
      tf.dispose([pixels, cutTokens, fullTokens, targets, ...bank.values()]);
      optimizer.dispose();
      disposeAdapterPool(pool);
      disposeModel(model);
    },
  };
}

/** The step alone, as the GPU check takes it: time, peak memory, transfers, compiled shaders. */
export interface StepMeasurement {
  backend: ConcreteBackend;
  adapter: string | null;
  arch: string;
  batch: number;
  textPositions: number;
  /** Milliseconds, median over reps; steps per second is 1000 / stepMs. */
  stepMs: number;
  peakMiB: number;
  backendMiB: number | null;
  transfers: Transfers;
  pipelines: { afterWarmup: number; afterSteps: number } | null;
}

/**
 * `reps` timed steps after two warm-up steps: the first profiled (its peak; it compiles every
 * shader), the second counted (its transfers). 2 + reps steps in all, cut text only.
 */
export async function measureStep(
  backend: ConcreteBackend,
  testCase: StepCase,
  reps: number,
): Promise<StepMeasurement> {
  const bench = benchedStep(testCase);
  const { step, settle, cutTokens } = bench;
  try {
    const peakMiB = (await tf.profile(() => step(cutTokens))).peakBytes / 2 ** 20;
    const { transfers } = await countTransfers(() => step(cutTokens));
    await settle();
    const bytes = backendBytes();
    const afterWarmup = compiledPipelines();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const start = performance.now();
      await step(cutTokens);
      times.push(performance.now() - start);
    }
    await settle();
    const afterSteps = compiledPipelines();
    return {
      backend,
      adapter: await adapterDescription(backend),
      arch: bench.arch.name,
      batch: testCase.batch,
      textPositions: cutTokens.shape[1],
      stepMs: median(times),
      peakMiB,
      backendMiB: bytes === null ? null : bytes / 2 ** 20,
      transfers,
      pipelines: afterWarmup === null || afterSteps === null ? null : { afterWarmup, afterSteps },
    };
  } finally {
    bench.dispose();
  }
}

async function adapterDescription(backend: ConcreteBackend): Promise<string | null> {
  return backend === "webgpu" ? (await webgpuAdapter())?.description ?? null : null;
}

/** Measures one case on the active backend; `arch` is the preset `testCase.arch` names. */
export async function measure(
  backend: ConcreteBackend,
  testCase: StepCase,
  reps: number,
): Promise<Measurement> {
  const bench = benchedStep(testCase);
  const { arch, model, linear, variables, optimizer, pixels, cutTokens, fullTokens, encode } =
    bench;
  const { step, settle } = bench;
  const { batch } = testCase;
  const context = arch.text.contextLength;
  const gradOf = async (f: () => tf.Scalar) => {
    const { value, grads } = tf.variableGrads(f, variables);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    // Two warm-up steps of each: the first runs every kernel once; by the second, tensors that
    // tfjs-webgpu computed on the host while small have moved to the device for good. The cut
    // steps go first, so the backend's high-water mark is theirs (training's) alone.
    await step(cutTokens);
    const { transfers } = await countTransfers(() => step(cutTokens));
    await settle();
    const bytes = backendBytes();
    await step(fullTokens);
    await step(fullTokens);
    await settle();
    const pipelinesAfterWarmup = compiledPipelines();
    const [stepMs, fullStepMs] = await timeAlternately(
      reps,
      () => step(cutTokens),
      () => step(fullTokens),
    );
    await settle();
    const pipelinesAfterSteps = compiledPipelines();
    const peakMiB = (await tf.profile(() => step(cutTokens))).peakBytes / 2 ** 20;
    await settle();
    const visionMs = await timeMs(reps, () => gradOf(() => tf.sum(encode.image())));
    const textGrad = (tokens: tf.Tensor2D) => () => gradOf(() => tf.sum(encode.text(tokens)));
    await textGrad(fullTokens)();
    await textGrad(cutTokens)();
    const [textMs, fullTextMs] = await timeAlternately(
      reps,
      textGrad(cutTokens),
      textGrad(fullTokens),
    );
    const forward = (hook: LinearApply) =>
      timeMs(reps, async () => {
        const features = tf.tidy(() => [
          encodeImage(model, pixels, { linear: hook }),
          encodeText(model, cutTokens, { linear: hook }),
        ]);
        await Promise.all(features.map((tensor) => tensor.data()));
        tf.dispose(features);
      });
    const adaptedForward = await forward(linear);
    const plainForward = await forward(plainLinear);
    // The adapters' share of the encoders' forward, applied to their forward + backward time.
    const adaptersMs = Math.max(0, (adaptedForward - plainForward) / adaptedForward) *
      (visionMs + textMs);
    const gradients = tf.tidy(() =>
      Object.fromEntries(variables.map((v) => [v.name, tf.onesLike(v)]))
    );
    const optimizerMs = await timeMs(reps, async () => {
      optimizer.applyGradients(gradients, 1e-3);
      await settle();
    });
    tf.dispose(Object.values(gradients));
    const share = (ms: number) => Math.round((1000 * ms) / stepMs) / 1000;
    const ratio = (full: number, cut: number) => Math.round((100 * full) / cut) / 100;
    return {
      backend,
      adapter: await adapterDescription(backend),
      arch: arch.name,
      batch,
      textPositions: cutTokens.shape[1],
      contextLength: context,
      stepMs,
      visionMs,
      textMs,
      adaptersMs,
      optimizerMs,
      shares: {
        vision: share(visionMs),
        text: share(textMs),
        adapters: share(adaptersMs),
        optimizer: share(optimizerMs),
      },
      fullContext: { stepMs: fullStepMs, textMs: fullTextMs },
      cutSpeedup: { step: ratio(fullStepMs, stepMs), text: ratio(fullTextMs, textMs) },
      peakMiB,
      backendMiB: bytes === null ? null : bytes / 2 ** 20,
      transfers,
      pipelines: pipelinesAfterWarmup === null || pipelinesAfterSteps === null
        ? null
        : { afterWarmup: pipelinesAfterWarmup, afterSteps: pipelinesAfterSteps },
    };
  } finally {
    bench.dispose();
  }
}

/** One case measured by a child process: its measurement, or why it failed. */
async function measureInChild(
  backend: ConcreteBackend,
  testCase: Case,
  reps: number,
): Promise<Measurement | string> {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        fileURLToPath(import.meta.url),
        "--case",
        `${testCase.arch}:${testCase.batch}`,
        "--backends",
        backend,
        "--reps",
        String(reps),
        "--out",
        out,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const stderr = new TextDecoder().decode(output.stderr);
      return /Aborted\(\)|out of memory/i.test(stderr)
        ? "out of memory: the wasm heap is capped at 4 GiB"
        : stderr.trim().split("\n").find((line) => line.includes("error")) ?? "failed";
    }
    return JSON.parse(await Deno.readTextFile(out)) as Measurement;
  } finally {
    await Deno.remove(out);
  }
}

/** `ARCH:BATCH` -> a case, or null when it is not one. */
function parseCase(text: string): Case | null {
  const [arch, batch, ...rest] = text.trim().split(":");
  const size = Number(batch);
  if (rest.length > 0 || !arch || !Number.isInteger(size) || size < 1) return null;
  return { arch, batch: size };
}

const DEFAULT_CASES: Case[] = [
  { arch: "clip-tiny", batch: 32 },
  { arch: "ViT-B-16", batch: 1 },
  { arch: "ViT-B-16", batch: 2 },
  // The paper's setting: the GPU check's case.
  { arch: "ViT-B-16", batch: 32 },
];

/**
 * Why `backend` does not run `testCase` by default, or null when it does. `softwareAdapter`: the
 * WebGPU adapter is a CPU rasteriser (its description), or null.
 */
function defaultSkip(
  backend: ConcreteBackend,
  testCase: Case,
  softwareAdapter: string | null,
): string | null {
  if (testCase.arch !== "ViT-B-16") return null;
  const label = `${backend}/ViT-B-16 batch ${testCase.batch}`;
  if (backend === "wasm" && testCase.batch > 2) {
    // Checkpointed, a step holds ~0.75 GiB plus ~0.2 GiB per sample (measured at batch 1 and
    // 2): batch 32 would need ~7 GiB, beyond the wasm heap (4 GiB), which aborts the process.
    // The paper's batch needs a GPU backend.
    return `${label} (~7 GiB, beyond the 4 GiB wasm heap)`;
  }
  if (backend === "cpu") {
    // ~0.8 GFLOP/s: one ViT-B/16 step at batch 32 would take over half an hour.
    return `${label} (about 1 GFLOP/s)`;
  }
  if (backend === "webgpu" && softwareAdapter !== null) {
    // ~5 GFLOP/s on lavapipe / llvmpipe: a checkpointed ViT-B/16 step is ~140 GFLOP per sample
    // (image forward ~35, its recompute and backward), over 10 minutes a step at batch 32.
    return `${label} (software adapter ${softwareAdapter}: about 5 GFLOP/s; run it on a GPU)`;
  }
  return null;
}

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        quick: { type: "boolean", default: false },
        backends: { type: "string" },
        cases: { type: "string" },
        reps: { type: "string" },
        // One measurement in this process (the parent runs each case in a child, so that a case
        // that exhausts the wasm heap, which aborts the process, is recorded, not fatal).
        case: { type: "string" },
        out: {
          type: "string",
          default: fileURLToPath(new URL("../results/bench/train.json", import.meta.url)),
        },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const reps = Number(values.reps ?? (values.quick ? 1 : 3));
  if (!Number.isInteger(reps) || reps < 1) {
    console.error(`--reps must be a positive integer\n${USAGE}`);
    return 2;
  }
  const named = values.cases?.split(",").map(parseCase) ?? null;
  if (named !== null && named.some((testCase) => testCase === null)) {
    console.error(`--cases takes ARCH:BATCH,... (e.g. ViT-B-16:32)\n${USAGE}`);
    return 2;
  }
  const backends = values.backends !== undefined
    ? values.backends.split(",").map((b) => b.trim()) as ConcreteBackend[]
    : values.quick
    ? ["cpu" as const]
    : await availableBackends();
  if (values.case !== undefined) {
    const testCase = parseCase(values.case);
    if (testCase === null) {
      console.error(`--case takes ARCH:BATCH\n${USAGE}`);
      return 2;
    }
    await useBackend(backends[0]!);
    const result = await measure(backends[0]!, testCase, reps);
    await writeFileAtomic(values.out, new TextEncoder().encode(JSON.stringify(result)));
    return 0;
  }
  const cases: Case[] = named as Case[] | null ??
    (values.quick ? [{ arch: "clip-tiny", batch: 4 }] : DEFAULT_CASES);
  const adapter = await webgpuAdapter();
  const softwareAdapter = adapter?.software ? adapter.description : null;
  const results: Measurement[] = [];
  const skipped: string[] = [];
  const failed: { backend: string; arch: string; batch: number; reason: string }[] = [];
  for (const backend of backends) {
    for (const testCase of cases) {
      const skip = named === null ? defaultSkip(backend, testCase, softwareAdapter) : null;
      if (skip !== null) {
        skipped.push(skip);
        continue;
      }
      const outcome = await measureInChild(backend, testCase, reps);
      const label = `${backend} ${testCase.arch} batch ${testCase.batch}`;
      if (typeof outcome === "string") {
        failed.push({ backend, ...testCase, reason: outcome });
        console.log(`${label}: failed (${outcome})`);
        continue;
      }
      results.push(outcome);
      console.log(
        `${label}: ${outcome.stepMs.toFixed(1)} ms/step (full context ` +
          `${outcome.fullContext.stepMs.toFixed(1)}, x${outcome.cutSpeedup.step}; text pass ` +
          `x${outcome.cutSpeedup.text}), peak ${outcome.peakMiB.toFixed(0)} MiB (vision ` +
          `${outcome.shares.vision}, text ${outcome.shares.text}, adapters ` +
          `${outcome.shares.adapters}, optimizer ${outcome.shares.optimizer})`,
      );
    }
  }
  const out = values.out;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  const report = {
    bench: "train",
    date: new Date().toISOString(),
    method: "expert-pool",
    checkpoint: true,
    ago: "a second task's: 12 earlier B columns per module",
    quick: values.quick,
    reps,
    // Shares are of one step; vision and text include their adapters, so they overlap them.
    results,
    skipped,
    failed,
  };
  await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
  console.log(`wrote ${out}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
