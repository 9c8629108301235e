/**
 * Training step time of the expert pool per backend, and where it goes: vision encoder, text
 * encoder (each forward + backward with adapters), the adapters' own cost (forward with adapters
 * minus the plain forward, scaled to forward + backward), and the optimiser update. Models have
 * generated weights (nothing is loaded): the tiny CLIP, and ViT-B/16's shapes at batch 32.
 *
 *   deno run -A bench/train.ts [--quick] [--backends cpu,wasm] [--reps 3] [--out results/bench/train.json]
 *
 * `--quick`: the tiny model only, batch 4, one rep, cpu (a smoke test of this file).
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { availableBackends, type ConcreteBackend, useBackend } from "../src/clip/backend.ts";
import { type LinearApply, plainLinear } from "../src/clip/linear.ts";
import { type ClipModel, disposeModel, encodeImage, encodeText } from "../src/clip/model.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { randomClipModel } from "../src/clip/synthetic.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { SeededRng } from "../src/io/rng.ts";
import { loadMethodConfig } from "../src/method/config.ts";
import { AdamW } from "../src/method/optimizer.ts";
import {
  createAdapterPool,
  disposeAdapterPool,
  poolLinear,
  trainableVariables,
} from "../src/method/pool.ts";
import { clipLoss } from "../src/method/train.ts";

const USAGE =
  "usage: deno run -A bench/train.ts [--quick] [--backends cpu,wasm] [--reps N] [--out FILE]";

interface Case {
  arch: string;
  batch: number;
}

interface Measurement {
  backend: ConcreteBackend;
  arch: string;
  batch: number;
  /** Milliseconds, median over reps. */
  stepMs: number;
  visionMs: number;
  textMs: number;
  adaptersMs: number;
  optimizerMs: number;
  /** Each part's share of the step (the rest: loss, AGO, data, bookkeeping). */
  shares: { vision: number; text: number; adapters: number; optimizer: number };
  /** Most tensor memory held at once during one step (weights included), in MiB. */
  peakMiB: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `body` (which must read its result back) `reps` times after one warm-up; median ms. */
function timeMs(reps: number, body: () => void): number {
  body();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    body();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function measure(
  backend: ConcreteBackend,
  testCase: Case,
  reps: number,
): Promise<Measurement> {
  const arch = loadArchPreset(testCase.arch);
  const model: ClipModel = randomClipModel(arch, { seed: 0 });
  const method = loadMethodConfig("expert-pool");
  const pool = createAdapterPool(arch, method, { rng: new SeededRng(0) });
  const variables = trainableVariables(pool);
  const optimizer = new AdamW(variables, { weightDecay: 0.01, betas: [0.9, 0.999] });
  const linear = poolLinear(pool, { training: true, rng: new SeededRng(1) });
  const { batch } = testCase;
  const size = arch.vision.imageSize;
  const context = arch.text.contextLength;
  const pixels = tf.randomNormal([batch, 3, size, size], 0, 1, "float32", 2) as tf.Tensor4D;
  const tokenIds = new Int32Array(batch * context);
  for (let row = 0; row < batch; row++) {
    tokenIds.set([arch.text.vocabSize - 2, row + 1, arch.text.vocabSize - 1], row * context);
  }
  const tokens = tf.tensor2d(tokenIds, [batch, context], "int32");
  const targets = tf.eye(batch) as tf.Tensor2D;
  const gradOf = (f: () => tf.Scalar) => {
    const { value, grads } = tf.variableGrads(f, variables);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  // As trainTask runs the expert pool: per-block gradient checkpointing.
  const encode = {
    text: () => encodeText(model, tokens, { linear, checkpoint: true }),
    image: () => encodeImage(model, pixels, { linear, checkpoint: true }),
  };
  try {
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () => clipLoss(encode.text(), encode.image(), { logitScale: model.logitScale, targets }),
        variables,
      );
      value.dataSync();
      optimizer.applyGradients(grads, 1e-3);
      variables[0]!.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
    const stepMs = timeMs(reps, step);
    const peakMiB = (await tf.profile(step)).peakBytes / 2 ** 20;
    const visionMs = timeMs(
      reps,
      () => gradOf(() => tf.sum(encode.image())),
    );
    const textMs = timeMs(reps, () => gradOf(() => tf.sum(encode.text())));
    const forward = (hook: LinearApply) =>
      timeMs(reps, () => {
        tf.tidy(() => {
          encodeImage(model, pixels, { linear: hook }).dataSync();
          encodeText(model, tokens, { linear: hook }).dataSync();
        });
      });
    const adaptedForward = forward(linear);
    const plainForward = forward(plainLinear);
    // The adapters' share of the encoders' forward, applied to their forward + backward time.
    const adaptersMs = Math.max(0, (adaptedForward - plainForward) / adaptedForward) *
      (visionMs + textMs);
    const gradients = tf.tidy(() =>
      Object.fromEntries(variables.map((v) => [v.name, tf.onesLike(v)]))
    );
    const optimizerMs = timeMs(reps, () => {
      optimizer.applyGradients(gradients, 1e-3);
      variables[0]!.dataSync();
    });
    tf.dispose(Object.values(gradients));
    const share = (ms: number) => Math.round((1000 * ms) / stepMs) / 1000;
    return {
      backend,
      arch: testCase.arch,
      batch,
      stepMs,
      visionMs,
      textMs,
      adaptersMs,
      optimizerMs,
      peakMiB,
      shares: {
        vision: share(visionMs),
        text: share(textMs),
        adapters: share(adaptersMs),
        optimizer: share(optimizerMs),
      },
    };
  } finally {
    tf.dispose([pixels, tokens, targets]);
    optimizer.dispose();
    disposeAdapterPool(pool);
    disposeModel(model);
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

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        quick: { type: "boolean", default: false },
        backends: { type: "string" },
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
  const backends = values.backends !== undefined
    ? values.backends.split(",").map((b) => b.trim()) as ConcreteBackend[]
    : values.quick
    ? ["cpu" as const]
    : await availableBackends();
  if (values.case !== undefined) {
    const [arch, batch] = values.case.split(":");
    await useBackend(backends[0]!);
    const result = await measure(backends[0]!, { arch: arch!, batch: Number(batch) }, reps);
    await writeFileAtomic(values.out, new TextEncoder().encode(JSON.stringify(result)));
    return 0;
  }
  const cases: Case[] = values.quick ? [{ arch: "clip-tiny", batch: 4 }] : [
    { arch: "clip-tiny", batch: 32 },
    { arch: "ViT-B-16", batch: 1 },
    { arch: "ViT-B-16", batch: 2 },
    { arch: "ViT-B-16", batch: 32 },
  ];
  const results: Measurement[] = [];
  const skipped: string[] = [];
  const failed: { backend: string; arch: string; batch: number; reason: string }[] = [];
  for (const backend of backends) {
    if (backend === "webgpu") {
      // The timing loop reads values back synchronously, which WebGPU cannot do.
      skipped.push("webgpu (synchronous reads)");
      continue;
    }
    for (const testCase of cases) {
      if (testCase.arch === "ViT-B-16" && testCase.batch > 2 && backend === "wasm") {
        // Checkpointed, a step holds ~0.75 GiB plus ~0.2 GiB per sample (measured at batch 1 and
        // 2): batch 32 would need ~7 GiB, beyond the wasm heap (4 GiB), which aborts the process.
        // The paper's batch needs a GPU backend.
        skipped.push(`wasm/ViT-B-16 batch ${testCase.batch} (~7 GiB, beyond the 4 GiB wasm heap)`);
        continue;
      }
      if (testCase.arch === "ViT-B-16" && backend === "cpu" && values.backends === undefined) {
        // ~0.8 GFLOP/s: one ViT-B/16 step at batch 32 would take over half an hour.
        skipped.push(`cpu/ViT-B-16 batch ${testCase.batch} (about 1 GFLOP/s)`);
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
        `${label}: ${outcome.stepMs.toFixed(1)} ms/step, peak ${outcome.peakMiB.toFixed(0)} MiB ` +
          `(vision ${outcome.shares.vision}, ` +
          `text ${outcome.shares.text}, adapters ${outcome.shares.adapters}, optimizer ` +
          `${outcome.shares.optimizer})`,
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
