/**
 * Top-1 accuracy of a CLIP model with a zero-shot head on prepared images: per batch, uint8
 * `[B, H, W, 3]` is normalised to CHW float (torchvision's ToTensor + Normalize), encoded by a
 * `ClipEncoder` (TF.js or ONNX Runtime), L2-normalised; logits = 100 * image · headᵀ; the
 * prediction is the arg-max (the first of tied maxima, as torch's argmax). Scoring runs in
 * TF.js on the features whichever engine encoded them, so equal features give equal predictions.
 *
 * Images come from memory or, batch by batch, from a source such as `PreparedSplitReader`: the
 * next batch is read while the current one is encoded, and at most two batches are held.
 */
import { yieldToEventLoop } from "../io/event_loop.ts";
import * as tf from "@tensorflow/tfjs";
import { type ClipEncoder, openEncoder } from "../clip/encoder.ts";
import type { ClipModel, EncodeOptions } from "../clip/model.ts";
import { measuredOn } from "../clip/machine.ts";
import { ThroughputMeter } from "../clip/measure.ts";
import { UserError } from "../errors.ts";
import { normalizeUint8 } from "../io/image.ts";
import { type EvaluateRunStats, evaluateRunStats } from "./evaluate_stats.ts";

/** Images encoded at once when the caller does not say. */
export const DEFAULT_EVAL_BATCH = 32;

/** CLIP's frozen logit scale: exp(ln 100). It does not change the arg-max, only the logits. */
export const LOGIT_SCALE = 100;

/** Images read batch by batch (a `PreparedSplitReader`). */
export interface ImageBatches {
  /** Side of the square images. */
  readonly size: number;
  readonly count: number;
  /** Images `[start, end)`: uint8 `[end - start, size, size, 3]`. */
  readImages(start: number, end: number): Promise<Uint8Array>;
}

export interface EvaluateOptions {
  /**
   * uint8 RGB `[N, H, W, 3]` with H = W = the model's image size: in memory (a PreparedSplit's
   * `images`) or read batch by batch (a `PreparedSplitReader`).
   */
  images: Uint8Array | ImageBatches;
  labels: Int32Array; // [N]
  /** `[C, D]` row-major unit rows (see zeroShotHead). */
  head: Float32Array;
  batchSize?: number;
  /**
   * When evaluating a `ClipModel` (on TF.js): how adapted linears are applied; default plain
   * weights (merged models need nothing else).
   */
  linear?: EncodeOptions["linear"];
  /** Called after each batch: `done` of `total` images scored. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface Accuracy {
  /** Top-1 accuracy in percent (0-100); 0 for an empty set. */
  top1: number;
  correct: number;
  total: number;
  perClassCorrect: Int32Array; // [C]
  perClassTotal: Int32Array; // [C]
  /** The predicted class of each image. */
  predictions: Int32Array; // [N]
}

/** What `evaluate` returns: the accuracy, and apart from it how the evaluation ran. */
export interface Evaluation extends Accuracy {
  /** Speed, engine and machine; null for an empty set. */
  stats: EvaluateRunStats | null;
}

/** An accumulator of per-class counts over batches of predictions. */
class AccuracyCounter {
  readonly perClassCorrect: Int32Array;
  readonly perClassTotal: Int32Array;
  readonly predictions: Int32Array;
  #filled = 0;

  constructor(classes: number, total: number) {
    this.perClassCorrect = new Int32Array(classes);
    this.perClassTotal = new Int32Array(classes);
    this.predictions = new Int32Array(total);
  }

  add(predicted: ArrayLike<number>, labels: ArrayLike<number>): void {
    for (let i = 0; i < predicted.length; i++) {
      const label = labels[i]!;
      this.predictions[this.#filled++] = predicted[i]!;
      this.perClassTotal[label]! += 1;
      if (predicted[i] === label) this.perClassCorrect[label]! += 1;
    }
  }

  result(): Accuracy {
    let correct = 0;
    let total = 0;
    for (let c = 0; c < this.perClassTotal.length; c++) {
      correct += this.perClassCorrect[c]!;
      total += this.perClassTotal[c]!;
    }
    return {
      top1: total === 0 ? 0 : (100 * correct) / total,
      correct,
      total,
      perClassCorrect: this.perClassCorrect,
      perClassTotal: this.perClassTotal,
      predictions: this.predictions,
    };
  }
}

function checkLabels(labels: Int32Array, classes: number): void {
  const bad = labels.findIndex((label) => label < 0 || label >= classes);
  if (bad >= 0) {
    throw new UserError(
      `Cannot evaluate: label ${labels[bad]} of image ${bad} is outside the head's ` +
        `${classes} classes`,
    );
  }
}

/** Checks `head` holds whole rows of `dim` values and returns the class count. */
function headClasses(head: Float32Array, dim: number): number {
  if (head.length === 0 || head.length % dim !== 0) {
    throw new UserError(
      `Cannot evaluate: the head has ${head.length} values, not a whole number of ` +
        `${dim}-wide rows (expected [classes, ${dim}])`,
    );
  }
  return head.length / dim;
}

/**
 * The arg-max class of each row of `features` `[count, dim]` against `headT` `[dim, C]`:
 * argmax(100 * normalise(features) · headᵀ), on the current TF.js backend.
 */
async function predict(features: Float32Array, count: number, headT: tf.Tensor2D) {
  const dim = headT.shape[0];
  const predicted = tf.tidy(() => {
    const rows = tf.tensor2d(features, [count, dim]);
    const unit = rows.div(rows.norm("euclidean", 1, true));
    return tf.argMax(unit.matMul(headT).mul(LOGIT_SCALE), 1); // [count]
  });
  // Read back asynchronously: WebGPU has no synchronous reads.
  const values = await predicted.data() as Int32Array;
  predicted.dispose();
  return values;
}

/** `head` `[C, D]` transposed on the TF.js backend: `[D, C]`. */
function transposedHead(head: Float32Array, classes: number, dim: number): tf.Tensor2D {
  return tf.tidy(() => tf.tensor2d(head, [classes, dim]).transpose<tf.Tensor2D>());
}

/**
 * Accuracy of already-computed image features `[N, D]` (row-major, any norm) against `head`
 * `[C, D]`: the arg-max of `100 * normalise(features) · headᵀ` per image.
 */
export async function scoreFeatures(
  features: Float32Array,
  options: { labels: Int32Array; head: Float32Array },
): Promise<Accuracy> {
  const { labels, head } = options;
  const count = labels.length;
  if (count === 0 || features.length % count !== 0) {
    throw new UserError(
      `Cannot score ${features.length} feature values against ${count} labels`,
    );
  }
  const dim = features.length / count;
  const classes = headClasses(head, dim);
  checkLabels(labels, classes);
  const counter = new AccuracyCounter(classes, count);
  const headT = transposedHead(head, classes, dim);
  try {
    counter.add(await predict(features, count, headT), labels);
  } finally {
    headT.dispose();
  }
  return counter.result();
}

/** The images of `options` as batches, checked against the model's image size. */
function imageBatches(
  images: Uint8Array | ImageBatches,
  expected: { count: number; size: number; model: string },
): ImageBatches {
  const { count, size, model } = expected;
  const needs = `${model} needs [${count}, ${size}, ${size}, 3] uint8 (prepare the split at ` +
    `size ${size})`;
  if (!(images instanceof Uint8Array)) {
    if (images.size !== size || images.count !== count) {
      throw new UserError(
        `Cannot evaluate: ${images.count} images of ${images.size} px for ${count} labels; ${needs}`,
      );
    }
    return images;
  }
  const imageBytes = size * size * 3;
  if (images.length !== count * imageBytes) {
    throw new UserError(
      `Cannot evaluate: ${images.length} image bytes for ${count} labels; ${needs}`,
    );
  }
  return {
    size,
    count,
    readImages: (start, end) =>
      Promise.resolve(images.subarray(start * imageBytes, end * imageBytes)),
  };
}

/** Normalised NCHW float pixels `[B, 3, size, size]` of uint8 HWC images `[B, size, size, 3]`. */
function normalizeBatch(images: Uint8Array, size: number): Float32Array {
  const imageBytes = size * size * 3;
  const pixels = new Float32Array(images.length);
  for (let i = 0; i < images.length / imageBytes; i++) {
    const image = images.subarray(i * imageBytes, (i + 1) * imageBytes);
    pixels.set(normalizeUint8(image, size), i * imageBytes);
  }
  return pixels;
}

/**
 * Top-1 accuracy with `head` on prepared images, `batchSize` images per encoder call, encoded by
 * `encoder` (or by TF.js, when given a `ClipModel`). Tensor memory does not grow: everything a
 * batch creates is freed before the next. Abortable between batches through `signal`.
 */
export async function evaluate(
  encoder: ClipEncoder | ClipModel,
  options: EvaluateOptions,
): Promise<Evaluation> {
  if (!("encodeImages" in encoder)) {
    const tfjs = await openEncoder(encoder, { engine: "tfjs", linear: options.linear });
    try {
      return await evaluate(tfjs, options);
    } finally {
      await tfjs.dispose();
    }
  }
  const { labels, head } = options;
  const { arch } = encoder;
  const size = arch.vision.imageSize;
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UserError(`The evaluation batch size must be a positive integer, got ${batchSize}`);
  }
  const count = labels.length;
  const source = imageBatches(options.images, { count, size, model: arch.name });
  const classes = headClasses(head, arch.embedDim);
  checkLabels(labels, classes);
  const counter = new AccuracyCounter(classes, count);
  const read = async (start: number) =>
    normalizeBatch(await source.readImages(start, Math.min(start + batchSize, count)), size);
  const headT = transposedHead(head, classes, arch.embedDim); // [D, C]
  const machine = await measuredOn({ engine: encoder.engine, backend: encoder.device });
  const meter = new ThroughputMeter();
  meter.start();
  let next = count > 0 ? read(0) : null;
  try {
    for (let start = 0; start < count; start += batchSize) {
      await yieldToEventLoop(); // lets a Ctrl-C be seen between batches on every engine
      options.signal?.throwIfAborted();
      const end = Math.min(start + batchSize, count);
      const pixels = await next!; // [B, 3, size, size]
      // Read the next batch from disk while this one is encoded.
      next = end < count ? read(end) : null;
      const features = await encoder.encodeImages(pixels); // [B, D]
      counter.add(await predict(features, end - start, headT), labels.subarray(start, end));
      meter.done(end - start);
      options.onProgress?.(end, count);
    }
  } finally {
    headT.dispose();
    next?.catch(() => {}); // a batch read ahead of an abort or error is dropped
  }
  const throughput = meter.result();
  const stats = throughput === null
    ? null
    : evaluateRunStats(throughput, { measuredOn: machine, batchSize });
  return { ...counter.result(), stats };
}
