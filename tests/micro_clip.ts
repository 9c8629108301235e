/**
 * A micro CLIP and a four-class task for training tests: small enough that a few steps take
 * milliseconds, structured enough that the loss falls (each class has its own colour).
 */
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../src/clip/arch.ts";
import { buildModel, type ClipModel, parameterShapes } from "../src/clip/model.ts";
import { SeededRng } from "../src/io/rng.ts";
import type { MethodConfig } from "../src/method/config.ts";
import { type AdapterPool, createAdapterPool } from "../src/method/pool.ts";
import type { ImagesInMemory, TrainOptions } from "../src/method/train.ts";

export const MICRO_ARCH: ClipArch = {
  name: "test-micro",
  embedDim: 8,
  vision: { imageSize: 8, patchSize: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
  text: { contextLength: 5, vocabSize: 12, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
};
export const MICRO_CLASSES = ["cat", "dog", "car", "cup"];
/** 3 images per class. */
export const MICRO_LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];

/** Random weights in [-0.3, 0.3] (layer-norm gains 1, logit scale 10), fixed by `seed`. */
export function microModel(seed: number, arch: ClipArch = MICRO_ARCH): ClipModel {
  const rng = new SeededRng(seed);
  const params = new Map<string, tf.Tensor>();
  for (const [name, shape] of parameterShapes(arch)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isNormWeight = /ln_\w+\.weight$/.test(name);
    for (let i = 0; i < values.length; i++) values[i] = isNormWeight ? 1 : rng.uniform(-0.3, 0.3);
    if (name === "logit_scale") values[0] = Math.log(10);
    params.set(name, tf.tensor(values, shape));
  }
  return buildModel(arch, params);
}

/** Word i of `MICRO_CLASSES` -> token i + 1; start 10, end 11 (the highest id). */
export function microTokenize(texts: string[]): Int32Array {
  const ids = new Int32Array(texts.length * MICRO_ARCH.text.contextLength);
  texts.forEach((text, row) => {
    const word = MICRO_CLASSES.findIndex((name) => text.includes(name));
    ids.set([10, word + 1, 11], row * MICRO_ARCH.text.contextLength);
  });
  return ids;
}

/** [12, 3, 8, 8] normalised pixels: a class-specific colour plus noise. */
export function microPixels(): tf.Tensor4D {
  const rng = new SeededRng(5);
  const pixels = new Float32Array(MICRO_LABELS.length * 3 * 64);
  MICRO_LABELS.forEach((label, n) => {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 64; p++) {
        pixels[(n * 3 + c) * 64 + p] = ((label * 3 + c) % 5) / 2 - 1 + rng.uniform(-0.2, 0.2);
      }
    }
  });
  return tf.tensor4d(pixels, [MICRO_LABELS.length, 3, 8, 8]);
}

export function microFewShotSet(): ImagesInMemory {
  return { pixels: microPixels(), labels: MICRO_LABELS, classNames: MICRO_CLASSES };
}

/** Training options for the micro task; `overrides` win. */
export function microTrainOptions(
  method: MethodConfig,
  overrides: Partial<TrainOptions> = {},
): TrainOptions {
  return {
    method,
    task: "micro",
    template: "a photo of a {}.",
    tokenize: microTokenize,
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

/**
 * A fresh adapter pool whose B (`up`) is uniform in [-0.5, 0.5] rather than zero: at
 * initialisation B = 0 and A would get no gradient to compare.
 */
export function poolWithNonZeroB(arch: ClipArch, method: MethodConfig): AdapterPool {
  const pool = createAdapterPool(arch, method, { rng: new SeededRng(3) });
  const rng = new SeededRng(4);
  for (const adapter of pool.adapters.values()) {
    const [rows, cols] = adapter.up.shape;
    const values = Float32Array.from({ length: rows * cols }, () => rng.uniform(-0.5, 0.5));
    tf.tidy(() => adapter.up.assign(tf.tensor2d(values, [rows, cols])));
  }
  return pool;
}

/**
 * An AGO bank as a later task sees it: `columns` earlier B columns per module of `pool`, uniform in
 * [-bound, bound], held as `agoLoss` reads them ([d_out, columns]).
 */
export function randomAgoBank(
  pool: AdapterPool,
  options: { seed: number; bound: number; columns?: number },
): Map<string, tf.Tensor2D> {
  const rng = new SeededRng(options.seed);
  const columns = options.columns ?? 4;
  const bank = new Map<string, tf.Tensor2D>();
  for (const [name, adapter] of pool.adapters) {
    const dOut = adapter.up.shape[1];
    const values = Float32Array.from(
      { length: dOut * columns },
      () => rng.uniform(-options.bound, options.bound),
    );
    bank.set(name, tf.tensor2d(values, [dOut, columns]));
  }
  return bank;
}
