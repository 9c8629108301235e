/**
 * Contrastive pretraining of a whole CLIP (Radford et al. 2021) from image-caption batches:
 * every backbone tensor and the logit scale train; loss = (CE(image→text) + CE(text→image)) / 2
 * over the batch's cosine logits, captions equal to each other counted as the same positive
 * (generated captions repeat); AdamW with weight decay on matrices only (not on gains, biases,
 * embeddings or the logit scale), linear warm-up then cosine decay; the logit scale is clamped
 * at ln 100 as CLIP does. The model passed in is trained in place.
 *
 * Deterministic for a backend: batches come from `options.batch(step)` (a pure function of the
 * step) and losses are read back in order, so a rerun on the same backend gives the same bytes.
 */
import * as tf from "@tensorflow/tfjs";
import { type ClipModel, encodeImage, encodeText, textTokens } from "../clip/model.ts";
import { UserError } from "../errors.ts";
import { AdamW, cosineLearningRate } from "./optimizer.ts";
import { modelSlots } from "./slots.ts";
import { clipLoss, targetMatrix } from "./train.ts";

/** CLIP clamps the learned temperature at 100. */
const MAX_LOGIT_SCALE = Math.log(100);

export interface PretrainBatch {
  /** Normalised pixels, NCHW [captions.length, 3, size, size], row-major. */
  pixels: Float32Array;
  captions: readonly string[];
}

export interface PretrainOptions {
  /** Length of the schedule. */
  steps: number;
  /** Stop after this many steps (default `steps`); the schedule stays `steps` long. */
  stopAfter?: number;
  /** Peak learning rate, reached after `warmup` steps. */
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  betas: [number, number];
  /** The batch of step `step` (0-based); must depend on nothing else. */
  batch: (step: number) => PretrainBatch;
  /** Texts -> int32 token ids, row-major [texts.length, context length]. */
  tokenize: (texts: readonly string[]) => Int32Array;
  onProgress?: (step: number, total: number, loss: number) => void;
  signal?: AbortSignal;
}

export interface PretrainResult {
  /** Loss of each step, before its update. */
  losses: number[];
  /** exp(logit scale) at the end. */
  temperature: number;
}

/** Learning rate of step `step`: linear warm-up to `lr`, then cosine to `minLr` at the end. */
export function pretrainLearningRate(
  step: number,
  options: Pick<PretrainOptions, "steps" | "lr" | "minLr" | "warmup">,
): number {
  if (step < options.warmup) return (options.lr * (step + 1)) / options.warmup;
  return cosineLearningRate(step - options.warmup, {
    lr: options.lr,
    minLr: options.minLr,
    iterations: options.steps - options.warmup - 1,
  });
}

/** Matrices decay; vectors, embeddings and the class token do not (CLIP's exclusions). */
function decays(name: string): boolean {
  if (name.includes("embedding")) return false;
  if (name === "vision.patch_weight" || name.endsWith("projection")) return true;
  return name.endsWith(".weight") && !/\.ln_\w+\.weight$/.test(name);
}

/** Makes every backbone tensor of `model` and its logit scale a variable, in place. */
function trainableModel(model: ClipModel): { decayed: tf.Variable[]; kept: tf.Variable[] } {
  const decayed: tf.Variable[] = [];
  const kept: tf.Variable[] = [];
  for (const slot of modelSlots(model)) {
    const tensor = slot.get();
    const variable = tf.variable(tensor, true, `pretrain.${slot.name}`);
    tensor.dispose();
    slot.set(variable);
    (decays(slot.name) ? decayed : kept).push(variable);
  }
  const scale = tf.variable(model.logitScale, true, "pretrain.logit_scale");
  model.logitScale.dispose();
  model.logitScale = scale as tf.Variable<tf.Rank.R0> as unknown as tf.Scalar;
  kept.push(scale);
  return { decayed, kept };
}

/** Same caption, same positive: each caption's index among the batch's distinct captions. */
function captionLabels(captions: readonly string[]): number[] {
  const ids = new Map<string, number>();
  return captions.map((caption) => {
    if (!ids.has(caption)) ids.set(caption, ids.size);
    return ids.get(caption)!;
  });
}

/** Pretrains `model` in place; returns the loss curve. */
export async function pretrainClip(
  model: ClipModel,
  options: PretrainOptions,
): Promise<PretrainResult> {
  const { decayed, kept } = trainableModel(model);
  const betas = options.betas;
  const decayOptimizer = new AdamW(decayed, { weightDecay: options.weightDecay, betas });
  const plainOptimizer = new AdamW(kept, { weightDecay: 0, betas });
  const variables = [...decayed, ...kept];
  const { imageSize } = model.arch.vision;
  const contextLength = model.arch.text.contextLength;
  const losses: number[] = [];
  try {
    const total = options.stopAfter ?? options.steps;
    for (let step = 0; step < total; step++) {
      options.signal?.throwIfAborted();
      const { pixels, captions } = options.batch(step);
      const size = captions.length;
      const tokenIds = options.tokenize(captions);
      const { value, grads } = tf.tidy(() => {
        const images = tf.tensor4d(pixels, [size, 3, imageSize, imageSize]);
        const tokens = textTokens(tokenIds, contextLength); // [size, positions up to the end token]
        const targets = tf.tensor2d(targetMatrix(captionLabels(captions)), [size, size]);
        return tf.variableGrads(
          () =>
            clipLoss(encodeText(model, tokens), encodeImage(model, images), {
              logitScale: model.logitScale,
              targets,
            }),
          variables,
        );
      });
      const loss = (await value.data())[0]!;
      if (!Number.isFinite(loss)) {
        tf.dispose([value, ...Object.values(grads)]);
        throw new UserError(`Pretraining diverged at step ${step + 1}: loss is ${loss}`);
      }
      const lr = pretrainLearningRate(step, options);
      decayOptimizer.applyGradients(grads, lr);
      plainOptimizer.applyGradients(grads, lr);
      tf.dispose([value, ...Object.values(grads)]);
      tf.tidy(() => {
        (model.logitScale as unknown as tf.Variable).assign(
          tf.clipByValue(model.logitScale, 0, MAX_LOGIT_SCALE),
        );
      });
      losses.push(loss);
      options.onProgress?.(step + 1, total, loss);
    }
    const temperature = Math.exp((await model.logitScale.data())[0]!);
    return { losses, temperature };
  } finally {
    decayOptimizer.dispose();
    plainOptimizer.dispose();
  }
}
