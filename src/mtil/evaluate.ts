/**
 * Top-1 accuracy of a CLIP model with a zero-shot head on prepared images: per batch, uint8
 * `[B, H, W, 3]` is normalised to CHW float (torchvision's ToTensor + Normalize), encoded,
 * L2-normalised; logits = 100 * image · headᵀ; the prediction is the arg-max (the first of tied
 * maxima, as torch's argmax).
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { normalizeUint8 } from "../io/image.ts";
import type { ClipModel, EncodeOptions } from "../clip/model.ts";
import { encodeImage } from "../clip/model.ts";

/** Images encoded at once when the caller does not say. */
export const DEFAULT_EVAL_BATCH = 32;

/** CLIP's frozen logit scale: exp(ln 100). It does not change the arg-max, only the logits. */
export const LOGIT_SCALE = 100;

export interface EvaluateOptions {
  /** `[N, H, W, 3]` uint8 RGB, H = W = the model's image size (a PreparedSplit's `images`). */
  images: Uint8Array;
  labels: Int32Array; // [N]
  /** `[C, D]` row-major unit rows (see zeroShotHead). */
  head: Float32Array;
  batchSize?: number;
  /** How adapted linears are applied; default plain weights (merged models need nothing else). */
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
  const predicted = tf.tidy(() => {
    const rows = tf.tensor2d(features, [count, dim]);
    const unit = rows.div(rows.norm("euclidean", 1, true));
    const headT = tf.tensor2d(head, [classes, dim]).transpose(); // [D, C]
    return tf.argMax(unit.matMul(headT).mul(LOGIT_SCALE), 1); // [N]
  });
  // Read back asynchronously: WebGPU has no synchronous reads.
  const values = await predicted.data() as Int32Array;
  predicted.dispose();
  counter.add(values, labels);
  return counter.result();
}

/**
 * Top-1 accuracy of `model` with `head` on prepared images, `batchSize` images per encoder call.
 * Tensor memory does not grow: everything a batch creates is freed before the next. Abortable
 * between batches through `signal`.
 */
export async function evaluate(model: ClipModel, options: EvaluateOptions): Promise<Accuracy> {
  const { images, labels, head } = options;
  const size = model.arch.vision.imageSize;
  const dim = model.arch.embedDim;
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UserError(`The evaluation batch size must be a positive integer, got ${batchSize}`);
  }
  const imageBytes = size * size * 3;
  const count = labels.length;
  if (images.length !== count * imageBytes) {
    throw new UserError(
      `Cannot evaluate: ${images.length} image bytes for ${count} labels; ${model.arch.name} ` +
        `needs [${count}, ${size}, ${size}, 3] uint8 (prepare the split at size ${size})`,
    );
  }
  const classes = headClasses(head, dim);
  checkLabels(labels, classes);
  const counter = new AccuracyCounter(classes, count);
  const headT = tf.tidy(() => tf.tensor2d(head, [classes, dim]).transpose<tf.Tensor2D>()); // [D, C]
  try {
    for (let start = 0; start < count; start += batchSize) {
      options.signal?.throwIfAborted();
      const end = Math.min(start + batchSize, count);
      const pixels = new Float32Array((end - start) * imageBytes); // [B, 3, size, size]
      for (let i = start; i < end; i++) {
        const image = images.subarray(i * imageBytes, (i + 1) * imageBytes);
        pixels.set(normalizeUint8(image, size), (i - start) * imageBytes);
      }
      const predicted = tf.tidy(() => {
        const batch = tf.tensor4d(pixels, [end - start, 3, size, size]);
        const features = encodeImage(model, batch, { linear: options.linear }); // [B, D]
        const unit = features.div(features.norm("euclidean", 1, true));
        return tf.argMax(unit.matMul(headT).mul(LOGIT_SCALE), 1); // [B]
      });
      // An async read lets GPU backends overlap and lets an abort signal fire between batches.
      const values = await predicted.data() as Int32Array;
      predicted.dispose();
      counter.add(values, labels.subarray(start, end));
      options.onProgress?.(end, count);
    }
  } finally {
    headT.dispose();
  }
  return counter.result();
}
