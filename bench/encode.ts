/**
 * CLIP encode throughput per backend: images/s and texts/s for the tiny CLIP and for a model with
 * ViT-B/16's shapes (generated weights, nothing loaded), plus matmul GFLOP/s on the shape of a
 * ViT-B/16 MLP layer ([768 x 768] @ [768 x 3072]).
 *
 *   deno run -A bench/encode.ts [--quick] [--backends cpu,wasm] [--reps 3] [--out FILE]
 *
 * Writes results/bench/encode.json (atomically). `--quick` is a smoke test: the tiny model and a
 * small matmul only, one rep, and no file unless `--out` is given. ViT-B/16 is skipped on the cpu
 * backend (~0.7 GFLOP/s: minutes per batch) unless `--backends` names cpu explicitly.
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { availableBackends, type ConcreteBackend, useBackend } from "../src/clip/backend.ts";
import { type ClipModel, disposeModel, encodeImage, encodeText } from "../src/clip/model.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { randomClipModel } from "../src/clip/synthetic.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";

const USAGE =
  "usage: deno run -A bench/encode.ts [--quick] [--backends cpu,wasm] [--reps N] [--out FILE]";

interface ModelCase {
  arch: string;
  imageBatch: number;
  textBatch: number;
}

interface EncodeResult {
  backend: ConcreteBackend;
  arch: string;
  imageBatch: number;
  textBatch: number;
  imagesPerSecond: number;
  textsPerSecond: number;
}

interface MatMulResult {
  backend: ConcreteBackend;
  shape: string;
  gflops: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median seconds of `body` over `reps` runs after one warm-up; `body` reads its result back. */
async function timeSeconds(reps: number, body: () => Promise<void>): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await body();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

async function benchMatMul(backend: ConcreteBackend, size: number, reps: number) {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, 4 * size]);
  const seconds = await timeSeconds(reps, async () => {
    const product = tf.matMul(a, b);
    await product.data();
    product.dispose();
  });
  tf.dispose([a, b]);
  const flops = 2 * size * size * 4 * size;
  return {
    backend,
    shape: `[${size}x${size}]@[${size}x${4 * size}]`,
    gflops: flops / seconds / 1e9,
  };
}

async function benchModel(
  backend: ConcreteBackend,
  model: ClipModel,
  modelCase: ModelCase,
  reps: number,
): Promise<EncodeResult> {
  const { imageSize } = model.arch.vision;
  const { contextLength, vocabSize } = model.arch.text;
  const pixels = tf.randomNormal([modelCase.imageBatch, 3, imageSize, imageSize]) as tf.Tensor4D;
  // Prompt-like rows: start id, 10 word ids, end id (the highest id), zero padding.
  const rows = Array.from(
    { length: modelCase.textBatch },
    (_, row) =>
      Array.from(
        { length: contextLength },
        (_, i) =>
          i === 0
            ? vocabSize - 2
            : i < 11
            ? 1 + ((row * 31 + i * 17) % (vocabSize - 3))
            : i === 11
            ? vocabSize - 1
            : 0,
      ),
  );
  const tokens = tf.tensor2d(rows, [modelCase.textBatch, contextLength], "int32");
  const imageSeconds = await timeSeconds(reps, async () => {
    const features = encodeImage(model, pixels);
    await features.data();
    features.dispose();
  });
  const textSeconds = await timeSeconds(reps, async () => {
    const features = encodeText(model, tokens);
    await features.data();
    features.dispose();
  });
  tf.dispose([pixels, tokens]);
  return {
    backend,
    ...modelCase,
    imagesPerSecond: modelCase.imageBatch / imageSeconds,
    textsPerSecond: modelCase.textBatch / textSeconds,
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
  const present = await availableBackends();
  const named = values.backends?.split(",").map((name) => name.trim()) ?? null;
  const unknown = named?.filter((name) => !present.includes(name as ConcreteBackend)) ?? [];
  if (unknown.length > 0) {
    console.error(`not available here: ${unknown.join(", ")} (have ${present.join(", ")})`);
    return 2;
  }
  const backends = named === null ? present : present.filter((name) => named.includes(name));
  const cases: ModelCase[] = quick ? [{ arch: "clip-tiny", imageBatch: 2, textBatch: 2 }] : [
    { arch: "clip-tiny", imageBatch: 32, textBatch: 32 },
    { arch: "ViT-B-16", imageBatch: 4, textBatch: 16 },
  ];
  const matMulSize = quick ? 256 : 768;

  const matmuls: MatMulResult[] = [];
  const encodes: EncodeResult[] = [];
  const skipped: string[] = [];
  for (const backend of backends) {
    await useBackend(backend);
    matmuls.push(await benchMatMul(backend, matMulSize, reps));
    console.log(`${backend}: matmul ${matmuls.at(-1)!.gflops.toFixed(2)} GFLOP/s`);
    for (const modelCase of cases) {
      if (modelCase.arch === "ViT-B-16" && backend === "cpu" && named === null) {
        skipped.push(`${backend}/${modelCase.arch}`);
        continue;
      }
      const model = randomClipModel(loadArchPreset(modelCase.arch), { seed: 0 });
      try {
        const result = await benchModel(backend, model, modelCase, reps);
        encodes.push(result);
        console.log(
          `${backend}: ${modelCase.arch} ${result.imagesPerSecond.toFixed(1)} images/s ` +
            `(batch ${modelCase.imageBatch}), ${result.textsPerSecond.toFixed(1)} texts/s ` +
            `(batch ${modelCase.textBatch})`,
        );
      } finally {
        disposeModel(model);
      }
    }
  }
  const cpuReference = await numpyMatMul(matMulSize, reps);
  if (cpuReference !== null) {
    console.log(
      `cpu's own figure (${cpuReference.tool}): matmul ${cpuReference.gflops.toFixed(2)} GFLOP/s`,
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
    matmul: matmuls,
    cpuReference,
    encode: encodes,
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
 * The same matmul in numpy (its BLAS on every core): what this CPU can do, to read the backends'
 * figures against. Null where python3 with numpy is absent. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
 * are dropped for this one command: they pin OpenBLAS to a slow generic kernel on some machines.
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
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  try {
    const output = await new Deno.Command("python3", {
      args: ["-c", script],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return null;
    const result = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      numpy: string;
      gflops: number;
    };
    return {
      tool: `numpy ${result.numpy}`,
      shape: `[${size}x${size}]@[${size}x${4 * size}]`,
      gflops: result.gflops,
    };
  } catch {
    return null;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
