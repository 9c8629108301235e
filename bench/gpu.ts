/**
 * The GPU check's figures (scripts/gpu-check.sh runs it from the device kit): the WebGPU adapter,
 * clip-tiny fixture parity on TF.js webgpu and on ONNX Runtime's GPU providers, and ViT-B/16 at
 * the paper's setting: images/s encoding (TF.js webgpu, ONNX Runtime on each GPU provider that
 * opens), the training step at batch 32 (expert pool, AGO, checkpointing, end-token cut, AdamW),
 * its peak memory, and what it moves between host and device.
 *
 *   deno run -A bench/gpu.ts [--reduced] [--fixture DIR] [--reps N] [--out FILE]
 *
 * `--reduced`: clip-tiny at batch 4 instead of ViT-B/16 at 32 (a test of the check on a machine
 * without a GPU; a software adapter takes over ten minutes per ViT-B/16 step at batch 32). The
 * report says whether the adapter is a software one: its figures are then not a GPU's. It is
 * rewritten after each part, so a run stopped by a time limit keeps what it measured. Exit 1 when
 * there is no WebGPU adapter or a parity check fails.
 */
import * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { commandOptions } from "../src/cli/args.ts";
import { useBackend, webgpuAdapter } from "../src/clip/backend.ts";
import { openEncoder } from "../src/clip/encoder.ts";
import { disposeModel } from "../src/clip/model.ts";
import { loadOrt, ORT_VERSION, type OrtDevice, probeDevice } from "../src/clip/onnx/runtime.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { randomClipModel } from "../src/clip/synthetic.ts";
import { loadClipModel } from "../src/clip/weights.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { npyToFloat32, npyToInt32, readNpy } from "../src/io/npy.ts";
import { sharedPath } from "../tests/shared.ts";
import { relativeError } from "../tests/tolerance.ts";
import {
  describe,
  type EncodeResult,
  encoderRunner,
  measureRunners,
  type ModelCase,
  type Runner,
} from "./encode.ts";
import { measureStep, type StepMeasurement } from "./train.ts";

const USAGE = "usage: deno run -A bench/gpu.ts [--reduced] [--fixture DIR] [--reps N] [--out FILE]";

/** ONNX Runtime's GPU providers, best first. */
const ORT_GPU_DEVICES: OrtDevice[] = ["cuda", "webgpu"];

/** Within this relative error of OpenAI's embeddings (the CPU engines' test bound). */
const PARITY_BOUND = 1e-4;

interface Parity {
  engine: "tfjs" | "onnx";
  device: string;
  /** Max |difference| over the largest |reference|, images and texts; null when not run. */
  imageError: number | null;
  textError: number | null;
  ok: boolean | null;
  /** Why it did not run. */
  skipped?: string;
}

interface GpuReport {
  bench: "gpu";
  date: string;
  reduced: boolean;
  reps: number;
  deno: string;
  tfjs: string;
  onnxRuntime: string;
  /** The WebGPU adapter; `software`: a CPU rasteriser, so no figure here is a GPU's. */
  adapter: { description: string; software: boolean } | null;
  parity: Parity[];
  encode: EncodeResult[];
  train: StepMeasurement | null;
  /** Steps per second at the train case's batch (1000 / stepMs). */
  trainStepsPerSecond: number | null;
  skipped: string[];
  failed: string[];
  /** Seconds each part took. */
  seconds: Record<string, number>;
}

/** OpenAI's clip-tiny embeddings of the fixture's pixels and tokens, against each engine. */
async function checkParity(
  fixture: string | null,
  ortDevices: OrtDevice[],
): Promise<Parity[]> {
  const engines: { engine: "tfjs" | "onnx"; device: string }[] = [
    { engine: "tfjs", device: "webgpu" },
    ...ortDevices.map((device) => ({ engine: "onnx" as const, device })),
  ];
  if (fixture === null) {
    const skipped = "no clip-tiny fixture (../shared/fixtures/clip-tiny, or --fixture)";
    return engines.map((e) => ({ ...e, imageError: null, textError: null, ok: null, skipped }));
  }
  const pixels = npyToFloat32(await readNpy(`${fixture}/pixels.npy`), "pixels"); // [5, 3, 32, 32]
  const tokens = npyToInt32(await readNpy(`${fixture}/tokens.npy`), "tokens"); // [4, 20]
  const image = npyToFloat32(await readNpy(`${fixture}/image_embeds.npy`), "image_embeds");
  const text = npyToFloat32(await readNpy(`${fixture}/text_embeds.npy`), "text_embeds");
  await useBackend("webgpu");
  const { model } = await loadClipModel(`${fixture}/openai`);
  const results: Parity[] = [];
  try {
    for (const { engine, device } of engines) {
      const encoder = engine === "tfjs"
        ? await openEncoder(model, { engine })
        : await openEncoder(model, { engine, device: device as OrtDevice });
      try {
        const imageError = relativeError(await encoder.encodeImages(pixels), image);
        const textError = relativeError(await encoder.encodeTexts(tokens), text);
        const ok = imageError <= PARITY_BOUND && textError <= PARITY_BOUND;
        results.push({ engine, device, imageError, textError, ok });
      } finally {
        await encoder.dispose();
      }
    }
  } finally {
    disposeModel(model);
  }
  return results;
}

/** Images and texts per second: TF.js on webgpu, then ONNX Runtime on each GPU provider. */
async function measureEncoding(
  modelCase: ModelCase,
  ortDevices: OrtDevice[],
  reps: number,
): Promise<EncodeResult[]> {
  await useBackend("webgpu");
  const weights = randomClipModel(loadArchPreset(modelCase.arch), { seed: 0 });
  const results: EncodeResult[] = [];
  try {
    const engines = [
      () => openEncoder(weights, { engine: "tfjs" }),
      ...ortDevices.map((device) => () =>
        openEncoder(weights, { engine: "onnx", device, prepare: ["vision", "text"] })
      ),
    ];
    for (const open of engines) {
      const runner: Runner = encoderRunner(await open(), modelCase);
      try {
        results.push(...await measureRunners([runner], modelCase, reps));
      } finally {
        await runner.close();
      }
    }
  } finally {
    disposeModel(weights);
  }
  return results;
}

export async function main(args: string[]): Promise<number> {
  const values = commandOptions(args, {
    usage: USAGE,
    options: {
      reduced: { type: "boolean", default: false },
      fixture: { type: "string" },
      reps: { type: "string" },
      out: {
        type: "string",
        default: fileURLToPath(new URL("../results/bench/gpu.json", import.meta.url)),
      },
    },
  });
  if (typeof values === "number") return values;
  const reduced = values.reduced;
  const reps = Number(values.reps ?? (reduced ? 1 : 3));
  if (!Number.isInteger(reps) || reps < 1) {
    console.error(`--reps must be a positive integer\n${USAGE}`);
    return 2;
  }
  const arch = reduced ? "clip-tiny" : "ViT-B-16";
  const batch = reduced ? 4 : 32;
  const report: GpuReport = {
    bench: "gpu",
    date: new Date().toISOString(),
    reduced,
    reps,
    deno: Deno.version.deno,
    tfjs: tf.version.tfjs,
    onnxRuntime: ORT_VERSION,
    adapter: await webgpuAdapter(),
    parity: [],
    encode: [],
    train: null,
    trainStepsPerSecond: null,
    skipped: [],
    failed: [],
    seconds: {},
  };
  const out = values.out;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  const save = () =>
    writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
  const part = async (name: string, body: () => Promise<void>) => {
    const start = performance.now();
    try {
      await body();
    } catch (error) {
      report.failed.push(`${name}: ${(error as Error).message}`);
      console.log(`${name}: failed (${(error as Error).message})`);
    }
    report.seconds[name] = Math.round((performance.now() - start) / 100) / 10;
    await save();
  };

  const adapter = report.adapter;
  console.log(
    adapter === null
      ? "WebGPU adapter: none"
      : `WebGPU adapter: ${adapter.description}${
        adapter.software ? " (software: these figures are not a GPU's)" : ""
      }`,
  );
  const ortDevices: OrtDevice[] = [];
  const ort = await loadOrt();
  for (const device of ORT_GPU_DEVICES) {
    const missing = ort instanceof Error ? { reason: ort.message } : await probeDevice(ort, device);
    if (missing === null) {
      ortDevices.push(device);
    } else {
      report.skipped.push(`onnx/${device}: ${missing.reason}`);
    }
  }
  console.log(
    `ONNX Runtime GPU providers that open: ${ortDevices.join(", ") || "none"}` +
      report.skipped.map((line) => `\n  ${line}`).join(""),
  );
  if (adapter === null) {
    report.failed.push("webgpu: no adapter (TF.js webgpu parity, encoding and training not run)");
    await save();
    console.log(`wrote ${out}`);
    return 1;
  }

  await part("parity", async () => {
    report.parity = await checkParity(
      values.fixture ?? sharedPath("fixtures/clip-tiny"),
      ortDevices,
    );
    for (const check of report.parity) {
      const label = `parity ${check.engine}/${check.device}`;
      console.log(
        check.skipped !== undefined
          ? `${label}: skipped (${check.skipped})`
          : `${label}: images ${check.imageError!.toExponential(2)}, texts ` +
            `${check.textError!.toExponential(2)} relative to OpenAI's (bound ${PARITY_BOUND}): ` +
            (check.ok ? "ok" : "FAILED"),
      );
      if (check.ok === false) report.failed.push(`${label} beyond ${PARITY_BOUND}`);
    }
  });
  await part("encode", async () => {
    const modelCase: ModelCase = { arch, imageBatch: batch, textBatch: batch };
    for (const result of await measureEncoding(modelCase, ortDevices, reps)) {
      report.encode.push(result);
      console.log(describe(result));
    }
  });
  await part("train", async () => {
    await useBackend("webgpu");
    const step = await measureStep("webgpu", { arch, batch }, reps);
    report.train = step;
    report.trainStepsPerSecond = 1000 / step.stepMs;
    console.log(
      `train webgpu ${step.arch} batch ${batch}: ${step.stepMs.toFixed(0)} ms/step ` +
        `(${report.trainStepsPerSecond.toFixed(3)} steps/s), peak ${step.peakMiB.toFixed(0)} MiB ` +
        `of tensors, buffer pool ${step.backendMiB?.toFixed(0)} MiB, ` +
        `${step.transfers.reads} reads and ${step.transfers.writeBytes} bytes written per step, ` +
        `pipelines ${step.pipelines?.afterWarmup} -> ${step.pipelines?.afterSteps}`,
    );
  });
  console.log(`wrote ${out}`);
  return report.failed.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
