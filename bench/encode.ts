/**
 * CLIP encode throughput per inference engine, all in one run so the ratios are comparable:
 * TF.js on each backend, ONNX Runtime on each device that opens (CPU always), and a PyTorch CPU
 * peer (OpenAI's model code, bench/torch_peer.py) where `python3 -c "import torch"` works,
 * recorded as absent otherwise. Models have generated weights (nothing is loaded): the tiny CLIP
 * and ViT-B/16's shapes. Beside them: matmul GFLOP/s on a ViT-B/16 MLP layer's shape
 * ([768 x 768] @ [768 x 3072]) on each TF.js backend, ONNX Runtime, and numpy (the CPU's own).
 *
 * Texts are timed twice: prompt-like rows (the end token at position 11, as a class prompt) and
 * full-context rows (the end token at the last position). ONNX Runtime and TF.js compute only up
 * to the batch's last end token (exact under the causal mask); PyTorch computes every position, so
 * the full-context figure compares equal work.
 *
 * Each row also has the CPU seconds per image (all threads of the engine's process): images/s
 * fall with the share of the cores an engine gets from a loaded machine (Linux shares them per
 * session, not per thread, so a loaded machine gives ORT's two threads what it gives wasm's one);
 * CPU seconds do not. ONNX Runtime's profiler gives the image encoder's kernel time by operator
 * (`onnxProfile`).
 *
 * The engines the ratios compare (TF.js on wasm, ONNX Runtime on each device, PyTorch) run
 * interleaved, rep by rep, so a machine whose load changes during the run slows them alike; the
 * other TF.js backends run on their own. A software WebGPU adapter (llvmpipe, lavapipe) skips
 * ViT-B/16 as the cpu backend does (minutes per batch) unless `--backends` names it.
 *
 *   deno run -A bench/encode.ts [--quick] [--backends cpu,wasm] [--engines tfjs,onnx,pytorch]
 *     [--reps 3] [--out FILE]
 *
 * Writes results/bench/encode.json (atomically). `--quick` is a smoke test: the tiny model and a
 * small matmul only, one rep, and no file unless `--out` is given. ViT-B/16 is skipped on the cpu
 * backend (~0.7 GFLOP/s: minutes per batch) unless `--backends` names cpu explicitly.
 */
import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  availableBackends,
  type ConcreteBackend,
  useBackend,
  webgpuAdapter,
} from "../src/clip/backend.ts";
import { type ClipEncoder, openEncoder } from "../src/clip/encoder.ts";
import { type ClipModel, disposeModel } from "../src/clip/model.ts";
import { encodeOnnxModel, OnnxGraphBuilder } from "../src/io/onnx.ts";
import {
  IMAGE_INPUT,
  imageEncoderOnnx,
  ONNX_IR_VERSION,
  ONNX_OPSET,
} from "../src/clip/onnx/graph.ts";
import {
  createSession,
  loadOrt,
  ORT_DEVICES,
  ORT_VERSION,
  type OrtDevice,
  type OrtModule,
  probeDevice,
} from "../src/clip/onnx/runtime.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { randomClipModel } from "../src/clip/synthetic.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { type OpShare, profileOrtCpu } from "./ort_profile.ts";
import { tokenRows } from "./prompts.ts";

const USAGE = "usage: deno run -A bench/encode.ts [--quick] [--backends cpu,wasm] " +
  "[--engines tfjs,onnx,pytorch] [--reps N] [--out FILE]";

const ENGINES = ["tfjs", "onnx", "pytorch"] as const;
type Engine = typeof ENGINES[number];

export interface ModelCase {
  arch: string;
  imageBatch: number;
  textBatch: number;
}

export interface EncodeResult {
  engine: Engine;
  /** TF.js backend, ONNX Runtime device, or "cpu" for PyTorch. */
  device: string;
  arch: string;
  imageBatch: number;
  textBatch: number;
  imagesPerSecond: number;
  /** Prompt-like rows: start, 10 word ids, end (12 tokens used). */
  textsPerSecond: number;
  /** Rows whose end token is the context's last position: every token used. */
  textsPerSecondFullContext: number;
  /**
   * CPU seconds (every thread of the engine's process) per image: what an image costs whatever
   * else the machine runs, where images/s falls with the share of the cores the engine gets.
   */
  cpuSecondsPerImage: number;
  /** ONNX Runtime: seconds to build both graphs and open their sessions. */
  setupSeconds?: number;
}

interface MatMulResult {
  engine: Engine;
  device: string;
  shape: string;
  gflops: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median seconds of `body` over `reps` runs after one warm-up; `body` reads its result back. */
async function timeSeconds(reps: number, body: () => Promise<unknown>): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await body();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

function matMulShape(size: number): string {
  return `[${size}x${size}]@[${size}x${4 * size}]`;
}

async function tfjsMatMul(backend: ConcreteBackend, size: number, reps: number) {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, 4 * size]);
  const seconds = await timeSeconds(reps, async () => {
    const product = tf.matMul(a, b);
    await product.data();
    product.dispose();
  });
  tf.dispose([a, b]);
  return {
    engine: "tfjs",
    device: backend,
    shape: matMulShape(size),
    gflops: matMulFlops(size) / seconds / 1e9,
  } as const;
}

function matMulFlops(size: number): number {
  return 2 * size * size * 4 * size;
}

/** The same matmul as a one-node ONNX graph. */
async function onnxMatMul(ort: OrtModule, device: OrtDevice, size: number, reps: number) {
  const g = new OnnxGraphBuilder("matmul");
  const x = g.input({ name: "x", type: "float32", shape: [size, size] });
  const w = g.floats(
    "w",
    [size, 4 * size],
    Float32Array.from({ length: 4 * size * size }, Math.random),
  );
  g.output(g.node("MatMul", [x, w]), { name: "y", type: "float32", shape: [size, 4 * size] });
  const model = encodeOnnxModel({
    graph: g.build(),
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: "rankone-bench",
    producerVersion: "1",
  });
  const session = await createSession(ort, model, device);
  const input = new ort.Tensor("float32", Float32Array.from({ length: size * size }, Math.random), [
    size,
    size,
  ]);
  const seconds = await timeSeconds(reps, () => session.run({ x: input }));
  await session.release();
  return {
    engine: "onnx",
    device,
    shape: matMulShape(size),
    gflops: matMulFlops(size) / seconds / 1e9,
  } as const;
}

const BATCHES = ["image", "prompt", "full"] as const;
type Batch = typeof BATCHES[number];

/** One engine on one device, ready to run the bench's batches of one model case. */
export interface Runner {
  engine: Engine;
  device: string;
  /** ONNX Runtime: seconds to build both graphs and open their sessions. */
  setupSeconds?: number;
  /** Runs one batch: its wall-clock seconds and its process's CPU seconds. */
  run(batch: Batch): Promise<BatchTime>;
  close(): Promise<void>;
}

export interface BatchTime {
  seconds: number;
  cpuSeconds: number;
}

/** A runner over a `ClipEncoder` (TF.js or ONNX Runtime), timed in this process. */
export function encoderRunner(
  encoder: ClipEncoder,
  modelCase: ModelCase,
  setupSeconds?: number,
): Runner {
  const { arch } = encoder;
  const { imageSize } = arch.vision;
  const pixels = Float32Array.from(
    { length: modelCase.imageBatch * 3 * imageSize * imageSize },
    (_, i) => Math.sin(i * 0.01),
  );
  const inputs = {
    prompt: tokenRows(arch, modelCase.textBatch, Math.min(11, arch.text.contextLength - 1)),
    full: tokenRows(arch, modelCase.textBatch, arch.text.contextLength - 1),
  };
  return {
    engine: encoder.engine,
    device: encoder.device,
    setupSeconds,
    async run(batch) {
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await (batch === "image" ? encoder.encodeImages(pixels) : encoder.encodeTexts(inputs[batch]));
      const seconds = (performance.now() - start) / 1000;
      const { user, system } = process.cpuUsage(cpuStart);
      return { seconds, cpuSeconds: (user + system) / 1e6 };
    },
    close: () => encoder.dispose(),
  };
}

/** Runs every runner's batches `reps` times after a warm-up, interleaved rep by rep. */
export async function measureRunners(
  runners: Runner[],
  modelCase: ModelCase,
  reps: number,
): Promise<EncodeResult[]> {
  const times = runners.map(() => ({
    image: [] as number[],
    prompt: [] as number[],
    full: [] as number[],
    imageCpu: [] as number[],
  }));
  for (let rep = -1; rep < reps; rep++) {
    for (const batch of BATCHES) {
      for (const [i, runner] of runners.entries()) {
        const { seconds, cpuSeconds } = await runner.run(batch);
        if (rep < 0) continue; // rep -1 warms up
        times[i]![batch].push(seconds);
        if (batch === "image") times[i]!.imageCpu.push(cpuSeconds);
      }
    }
  }
  return runners.map((runner, i) => ({
    engine: runner.engine,
    device: runner.device,
    ...modelCase,
    imagesPerSecond: modelCase.imageBatch / median(times[i]!.image),
    textsPerSecond: modelCase.textBatch / median(times[i]!.prompt),
    textsPerSecondFullContext: modelCase.textBatch / median(times[i]!.full),
    cpuSecondsPerImage: median(times[i]!.imageCpu) / modelCase.imageBatch,
    ...(runner.setupSeconds === undefined ? {} : { setupSeconds: runner.setupSeconds }),
  }));
}

export function describe(result: EncodeResult): string {
  const setup = result.setupSeconds === undefined
    ? ""
    : `, setup ${result.setupSeconds.toFixed(1)} s`;
  return `${result.engine}/${result.device}: ${result.arch} ` +
    `${result.imagesPerSecond.toFixed(2)} images/s (batch ${result.imageBatch}), ` +
    `${result.textsPerSecond.toFixed(1)} texts/s ` +
    `(${
      result.textsPerSecondFullContext.toFixed(1)
    } at full context, batch ${result.textBatch}), ` +
    `${(1000 * result.cpuSecondsPerImage).toPrecision(3)} CPU ms per image` + setup;
}

/** The python3 that imports torch: the one on PATH, else Debian's (python3-torch). */
async function torchPython(): Promise<{ python: string } | { absent: string }> {
  const tried: string[] = [];
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const output = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (output.success) return { python };
      const message = new TextDecoder().decode(output.stderr).trim().split("\n").at(-1);
      tried.push(`${python}: ${message}`);
    } catch (error) {
      tried.push(`${python}: ${(error as Error).message}`);
    }
  }
  return { absent: `python3 -c "import torch" failed (${tried.join("; ")})` };
}

/** Environment for numpy / torch: OPENBLAS_CORETYPE / L2_SIZE pin OpenBLAS to a slow kernel. */
function blasEnvironment(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

interface TorchPeer {
  python: string;
  torch: string;
  threads: number;
  /** The BLAS libraries the process mapped: OpenBLAS, or the reference BLAS (~30x slower). */
  blas: string[];
}

/** Reads `stream` line by line; null at its end. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async () => {
    while (!buffer.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += value;
    }
    const end = buffer.indexOf("\n");
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + 1);
    return line;
  };
}

/** bench/torch_peer.py serving one model case: a runner, and what it says about itself. */
async function torchRunner(
  python: string,
  modelCase: ModelCase,
): Promise<{ peer: TorchPeer; runner: Runner }> {
  const script = fileURLToPath(new URL("./torch_peer.py", import.meta.url));
  const child = new Deno.Command(python, {
    args: [
      script,
      JSON.stringify(loadArchPreset(modelCase.arch)),
      "--image-batch",
      String(modelCase.imageBatch),
      "--text-batch",
      String(modelCase.textBatch),
      "--threads",
      String(navigator.hardwareConcurrency),
    ],
    env: blasEnvironment(),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const readLine = lineReader(child.stdout);
  const writer = child.stdin.getWriter();
  const reply = async () => {
    const line = await readLine();
    if (line === null) throw new Error(`${script} ended early (see its error above)`);
    return line;
  };
  const info = JSON.parse(await reply());
  return {
    peer: { python, torch: info.torch, threads: info.threads, blas: info.blas },
    runner: {
      engine: "pytorch",
      device: "cpu",
      async run(batch) {
        await writer.write(new TextEncoder().encode(`${batch}\n`));
        const [seconds, cpuSeconds] = (await reply()).split(" ").map(Number);
        return { seconds: seconds!, cpuSeconds: cpuSeconds! };
      },
      async close() {
        await writer.close();
        await child.status;
      },
    },
  };
}

/** The 1-minute load average (Linux), to read the figures against: others' work slows them. */
function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/** Where ORT's CPU time goes in one model case's image encoder. */
interface ImageProfile {
  arch: string;
  imageBatch: number;
  runs: number;
  ops: OpShare[];
}

/**
 * ORT's profiler on the image graph of `model` (CPU provider, the case's batch, two runs after a
 * warm-up): kernel time by operator, printed as shares.
 */
async function imageProfile(
  ort: OrtModule,
  model: ClipModel,
  modelCase: ModelCase,
): Promise<ImageProfile> {
  const { imageSize } = model.arch.vision;
  const shape = [modelCase.imageBatch, 3, imageSize, imageSize];
  const pixels = new Float32Array(shape.reduce((product, dim) => product * dim, 1));
  pixels.forEach((_, i) => pixels[i] = Math.sin(i * 0.01));
  const runs = 2;
  const ops = await profileOrtCpu(ort, await imageEncoderOnnx(model), {
    feeds: { [IMAGE_INPUT]: new ort.Tensor("float32", pixels, shape) },
    runs,
  });
  console.log(
    `onnx/cpu: ${modelCase.arch} image encoder's kernel time: ` +
      ops.filter((op) => op.share >= 0.005)
        .map((op) => `${op.op} ${(100 * op.share).toFixed(1)}%`)
        .join(", "),
  );
  return { arch: modelCase.arch, imageBatch: modelCase.imageBatch, runs, ops };
}

/** ONNX Runtime's speed over another row's, for the ViT-B/16 rows present. */
function speedups(encodes: EncodeResult[], arch: string) {
  const row = (engine: Engine, device: string) =>
    encodes.find((r) => r.engine === engine && r.device === device && r.arch === arch);
  const onnx = row("onnx", "cpu");
  const ratio = (other: EncodeResult | undefined) =>
    onnx === undefined || other === undefined ? null : {
      images: onnx.imagesPerSecond / other.imagesPerSecond,
      texts: onnx.textsPerSecond / other.textsPerSecond,
      textsFullContext: onnx.textsPerSecondFullContext / other.textsPerSecondFullContext,
      /** CPU seconds per image, the other's over ONNX Runtime's: load-independent. */
      imagesCpuTime: other.cpuSecondsPerImage / onnx.cpuSecondsPerImage,
    };
  return {
    arch,
    onnxCpuOverTfjsWasm: ratio(row("tfjs", "wasm")),
    onnxCpuOverPytorchCpu: ratio(row("pytorch", "cpu")),
  };
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
        engines: { type: "string" },
        reps: { type: "string" },
        out: { type: "string" },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const quick = values.quick;
  const reps = Number(values.reps ?? (quick ? 1 : 3));
  if (!Number.isInteger(reps) || reps < 1) {
    console.error(`--reps must be a positive integer\n${USAGE}`);
    return 2;
  }
  const engines = values.engines?.split(",").map((name) => name.trim()) ?? [...ENGINES];
  const unknownEngines = engines.filter((name) => !(ENGINES as readonly string[]).includes(name));
  if (unknownEngines.length > 0) {
    console.error(`unknown engine ${unknownEngines.join(", ")}\n${USAGE}`);
    return 2;
  }
  const present = await availableBackends();
  const named = values.backends?.split(",").map((name) => name.trim()) ?? null;
  const unknown = named?.filter((name) => !present.includes(name as ConcreteBackend)) ?? [];
  if (unknown.length > 0) {
    console.error(`not available here: ${unknown.join(", ")} (have ${present.join(", ")})`);
    return 2;
  }
  const backends = !engines.includes("tfjs")
    ? []
    : named === null
    ? present
    : present.filter((name) => named.includes(name));
  const cases: ModelCase[] = quick ? [{ arch: "clip-tiny", imageBatch: 2, textBatch: 2 }] : [
    { arch: "clip-tiny", imageBatch: 32, textBatch: 32 },
    { arch: "ViT-B-16", imageBatch: 4, textBatch: 16 },
  ];
  const matMulSize = quick ? 256 : 768;
  const loadAtStart = loadAverage();
  const encodes: EncodeResult[] = [];
  const record = (result: EncodeResult) => {
    encodes.push(result);
    console.log(describe(result));
  };

  const profiles: ImageProfile[] = [];
  const matmuls: MatMulResult[] = [];
  const skipped: string[] = [];
  const logMatMul = (result: MatMulResult) => {
    matmuls.push(result);
    console.log(`${result.engine}/${result.device}: matmul ${result.gflops.toFixed(2)} GFLOP/s`);
  };
  for (const backend of backends) {
    await useBackend(backend);
    logMatMul(await tfjsMatMul(backend, matMulSize, reps));
  }
  const onnxRuntime: { version: string; devices: Record<string, string | null> } | null =
    engines.includes("onnx") ? { version: ORT_VERSION, devices: {} } : null;
  const ortDevices: OrtDevice[] = [];
  const ort = onnxRuntime === null ? null : await loadOrt();
  if (ort instanceof Error) throw ort;
  if (ort !== null && onnxRuntime !== null) {
    for (const device of ORT_DEVICES) {
      const missing = await probeDevice(ort, device);
      onnxRuntime.devices[device] = missing?.reason ?? null;
      if (missing !== null) {
        skipped.push(`onnx/${device} (${missing.reason})`);
        continue;
      }
      ortDevices.push(device);
      logMatMul(await onnxMatMul(ort, device, matMulSize, reps));
    }
  }
  const torch = engines.includes("pytorch") ? await torchPython() : null;
  let pytorch: TorchPeer | { absent: string } | null = null;
  if (torch !== null && "absent" in torch) {
    pytorch = torch;
    console.log(`pytorch: absent (${torch.absent})`);
  }

  const adapter = await webgpuAdapter();
  // Backends that would take minutes per ViT-B/16 batch, unless named.
  const tooSlow = (backend: ConcreteBackend) =>
    named === null && (backend === "cpu" || (backend === "webgpu" && adapter?.software === true));
  // TF.js on wasm is the baseline the ratios use: it runs interleaved with ORT and PyTorch.
  const baseline: ConcreteBackend | null = backends.includes("wasm") ? "wasm" : null;
  for (const modelCase of cases) {
    const large = modelCase.arch !== "clip-tiny";
    const model = async (backend: ConcreteBackend) => {
      await useBackend(backend);
      return randomClipModel(loadArchPreset(modelCase.arch), { seed: 0 });
    };
    for (const backend of backends.filter((name) => name !== baseline)) {
      if (large && tooSlow(backend)) {
        skipped.push(`tfjs/${backend}/${modelCase.arch}`);
        continue;
      }
      const weights = await model(backend);
      const runner = encoderRunner(await openEncoder(weights, { engine: "tfjs" }), modelCase);
      try {
        for (const row of await measureRunners([runner], modelCase, reps)) record(row);
      } finally {
        await runner.close();
        disposeModel(weights);
      }
    }
    // The interleaved group; the ONNX graphs are built from the same generated weights.
    const weights = await model(baseline ?? "cpu");
    const runners: Runner[] = [];
    try {
      if (baseline !== null) {
        runners.push(encoderRunner(await openEncoder(weights, { engine: "tfjs" }), modelCase));
      }
      for (const device of ortDevices) {
        const start = performance.now();
        const encoder = await openEncoder(weights, {
          engine: "onnx",
          device,
          prepare: ["vision", "text"],
        });
        runners.push(encoderRunner(encoder, modelCase, (performance.now() - start) / 1000));
      }
      if (torch !== null && "python" in torch) {
        const { peer, runner } = await torchRunner(torch.python, modelCase);
        pytorch = peer;
        runners.push(runner);
      }
      for (const row of await measureRunners(runners, modelCase, reps)) record(row);
      if (ort !== null && ortDevices.includes("cpu")) {
        profiles.push(await imageProfile(ort, weights, modelCase));
      }
    } finally {
      for (const runner of runners) await runner.close();
      disposeModel(weights);
    }
  }

  const cpuReference = await numpyMatMul(matMulSize, reps);
  if (cpuReference !== null) {
    console.log(
      `cpu's own figure (${cpuReference.tool}): matmul ${cpuReference.gflops.toFixed(2)} GFLOP/s`,
    );
  }
  const ratios = speedups(encodes, quick ? "clip-tiny" : "ViT-B-16");
  for (const [name, ratio] of Object.entries(ratios)) {
    if (ratio === null || typeof ratio === "string") continue;
    console.log(
      `${ratios.arch} ${name}: images ${ratio.images.toFixed(1)}x ` +
        `(${ratio.imagesCpuTime.toFixed(1)}x less CPU time per image), texts ` +
        `${ratio.texts.toFixed(1)}x (${ratio.textsFullContext.toFixed(1)}x at full context)`,
    );
  }
  const report = {
    bench: "encode",
    date: new Date().toISOString(),
    quick,
    reps,
    deno: Deno.version.deno,
    tfjs: tf.version.tfjs,
    cpus: navigator.hardwareConcurrency,
    loadAverage: { start: loadAtStart, end: loadAverage() },
    onnxRuntime,
    pytorch,
    matmul: matmuls,
    cpuReference,
    encode: encodes,
    ratios,
    onnxProfile: profiles,
    skipped,
  };
  const out = values.out ??
    (quick ? null : fileURLToPath(new URL("../results/bench/encode.json", import.meta.url)));
  if (out !== null) {
    await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
    console.log(`wrote ${out}`);
  }
  return 0;
}

/**
 * The same matmul in numpy (its BLAS on every core): what this CPU can do, to read the engines'
 * figures against. Null where python3 with numpy is absent.
 */
async function numpyMatMul(
  size: number,
  reps: number,
): Promise<{ tool: string; shape: string; gflops: number } | null> {
  const script = `
import json, time, numpy as np
n = ${size}
a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, 4 * n).astype(np.float32)
a @ b
best = 1e9
for _ in range(${reps}):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(json.dumps({"numpy": np.__version__, "gflops": 2 * n * n * 4 * n / best / 1e9}))
`;
  try {
    const output = await new Deno.Command("python3", {
      args: ["-c", script],
      env: blasEnvironment(),
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return null;
    const result = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      numpy: string;
      gflops: number;
    };
    return { tool: `numpy ${result.numpy}`, shape: matMulShape(size), gflops: result.gflops };
  } catch {
    return null;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
