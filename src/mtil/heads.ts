/**
 * Zero-shot classification heads, the CLIP / ZSCL recipe: for each class, every template filled
 * with the class name is encoded, each text feature L2-normalised, the class's features averaged
 * and the mean renormalised. Row c of the head is class c's unit vector; logits are
 * `100 * normalised image feature · headᵀ`.
 */
import { yieldToEventLoop } from "../io/event_loop.ts";
import * as tf from "@tensorflow/tfjs";
import { type ClipEncoder, openEncoder } from "../clip/encoder.ts";
import type { ClipModel, EncodeOptions } from "../clip/model.ts";
import type { ClipTokenizer } from "../clip/tokenizer.ts";
import { UserError } from "../errors.ts";

/** Texts encoded at once when the caller does not say. */
export const DEFAULT_TEXT_BATCH = 64;

/** `"a photo of a {}."` with `{}` replaced by the class name (every occurrence). */
export function fillTemplate(template: string, className: string): string {
  return template.replaceAll("{}", className);
}

export interface ZeroShotHeadOptions {
  classNames: readonly string[];
  /** Prompt templates; `{}` stands for the class name. */
  templates: readonly string[];
  /** Texts per encoder call; default DEFAULT_TEXT_BATCH. */
  batchSize?: number;
  /**
   * When given a `ClipModel` (encoded on TF.js): how adapted linears are applied (an adapter
   * under training); default plain weights.
   */
  linear?: EncodeOptions["linear"];
  signal?: AbortSignal;
}

/** Scales each row of `rows` ([count, dim], row-major) to unit L2 norm, in place. */
export function normalizeRows(rows: Float32Array, dim: number): Float32Array {
  for (let start = 0; start < rows.length; start += dim) {
    let sum = 0;
    for (let i = start; i < start + dim; i++) sum += rows[i]! * rows[i]!;
    const norm = Math.sqrt(sum);
    // A zero row stays zero (torch's x / x.norm() would give NaN; no real feature is zero).
    if (norm > 0) { for (let i = start; i < start + dim; i++) rows[i] = rows[i]! / norm; }
  }
  return rows;
}

/** Unit rows of `features` `[count, dim]`, normalised on the TF.js backend. */
async function unitRows(features: Float32Array, count: number, dim: number) {
  const unit = tf.tidy(() => {
    const rows = tf.tensor2d(features, [count, dim]);
    return rows.div(rows.norm("euclidean", 1, true));
  });
  try {
    return await unit.data<"float32">();
  } finally {
    unit.dispose();
  }
}

/**
 * The zero-shot head `[classNames.length, embedDim]` (row-major Float32Array) of a model,
 * encoded by `encoder` (or by TF.js, when given a `ClipModel`). Texts are class-major (class
 * 0's templates, then class 1's, ...) and encoded `batchSize` at a time; the per-class sums are
 * kept in float64.
 */
export async function zeroShotHead(
  encoder: ClipEncoder | ClipModel,
  tokenizer: ClipTokenizer,
  options: ZeroShotHeadOptions,
): Promise<Float32Array> {
  if (!("encodeTexts" in encoder)) {
    const tfjs = await openEncoder(encoder, { engine: "tfjs", linear: options.linear });
    try {
      return await zeroShotHead(tfjs, tokenizer, options);
    } finally {
      await tfjs.dispose();
    }
  }
  const { classNames, templates } = options;
  const batchSize = options.batchSize ?? DEFAULT_TEXT_BATCH;
  if (classNames.length === 0 || templates.length === 0) {
    throw new UserError(
      `Cannot build a zero-shot head from ${classNames.length} class names and ` +
        `${templates.length} templates: both must be non-empty`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UserError(`The text batch size must be a positive integer, got ${batchSize}`);
  }
  const contextLength = encoder.arch.text.contextLength;
  const dim = encoder.arch.embedDim;
  const texts = classNames.flatMap((name) => templates.map((t) => fillTemplate(t, name)));
  const sums = new Float64Array(classNames.length * dim); // [classes, dim]
  for (let start = 0; start < texts.length; start += batchSize) {
    await yieldToEventLoop(); // lets a Ctrl-C be seen between batches on every backend
    options.signal?.throwIfAborted();
    const batch = texts.slice(start, start + batchSize);
    const ids = tokenizer.tokenize(batch, { contextLength }); // [batch, context]
    const features = await encoder.encodeTexts(ids); // [batch, dim]
    const values = await unitRows(features, batch.length, dim);
    for (let row = 0; row < batch.length; row++) {
      const base = Math.floor((start + row) / templates.length) * dim;
      for (let i = 0; i < dim; i++) sums[base + i]! += values[row * dim + i]!;
    }
  }
  // The mean's direction is the sum's: normalising the sum gives the renormalised mean.
  return normalizeRows(Float32Array.from(sums), dim);
}
