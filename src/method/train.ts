/**
 * Training one task, as the released loop does it (Fazhan-cs/DAC `alora`):
 * - batches of `batchSize` from the few-shot set, shuffled, drop_last; a new shuffle whenever
 *   `step % batchesPerEpoch == 0`; `steps` optimiser steps (the release: iterations + 1 = 501);
 * - texts = the task's template filled with each sample's class name; both encoders run with the
 *   adapters; logits = exp(logit_scale) · cos(text, image) [batch, batch]; same-label pairs are
 *   positives, rows normalised; loss = (CE(text→image) + CE(image→text)) / 2 + weight · AGO;
 * - AdamW (decoupled weight decay), cosine annealing over `iterations` to `minLr`, both times the
 *   method's `lrScale` (full fine-tuning steps far smaller than an adapter);
 * - the backbone and logit_scale frozen (except for full fine-tuning).
 * The model passed in is not modified: the result's `delta` is merged by `applyTaskDelta`.
 */
import { yieldToEventLoop } from "../io/event_loop.ts";
import * as tf from "@tensorflow/tfjs";
import {
  type ClipModel,
  cloneModel,
  disposeModel,
  encodeImage,
  encodeText,
  textTokens,
} from "../clip/model.ts";
import { type LinearApply, plainLinear } from "../clip/linear.ts";
import { measuredOn } from "../clip/machine.ts";
import { backendMemory, ThroughputMeter, watchTensorBytes } from "../clip/measure.ts";
import { SeededRng } from "../io/rng.ts";
import { UserError } from "../errors.ts";
import type { MethodConfig } from "./config.ts";
import { agoLoss, agoTensors, disposeAgoTensors } from "./ago.ts";
import { agoBank, type DenseUpdate, extractTaskDelta, type TaskDelta } from "./delta.ts";
import { AdamW, cosineLearningRate } from "./optimizer.ts";
import {
  createAdapterPool,
  disposeAdapterPool,
  type InitialAdapters,
  poolLinear,
  trainableVariables,
} from "./pool.ts";
import { modelSlots } from "./slots.ts";
import { type TrainRunStats, trainRunStats } from "./train_stats.ts";

/** Training images held as one tensor (few-shot sets: shots x classes images). */
export interface ImagesInMemory {
  /** [N, 3, H, W] normalised (and already augmented) pixels. */
  pixels: tf.Tensor4D;
  /** [N] class indices into `classNames`. */
  labels: ArrayLike<number>;
  classNames: readonly string[];
}

/**
 * Training images too many to hold as one tensor (full-shot): each batch is made when the loop
 * needs it, augmented anew per epoch as the release's data loader does.
 */
export interface StreamedImages {
  /** [N] class indices into `classNames`. */
  labels: ArrayLike<number>;
  classNames: readonly string[];
  /** Normalised pixels [indices.length, 3, H, W] of samples `indices` (in that order) for `epoch`. */
  batch(indices: readonly number[], epoch: number): Promise<tf.Tensor4D>;
  /** Optional: start making the batch `batch` will be asked for next, while this step computes. */
  prefetch?(indices: readonly number[], epoch: number): void;
}

/** What a task trains on: a few-shot set held in memory, or images streamed per batch. */
export type TrainingImages = ImagesInMemory | StreamedImages;

function isStreamed(images: TrainingImages): images is StreamedImages {
  return "batch" in images;
}

export interface TrainOptions {
  method: MethodConfig;
  /** The task's name (errors and the delta name it). */
  task: string;
  /** One prompt template of the task's dataset; `{}` is replaced by the class name. */
  template: string;
  /** Texts -> int32 token ids, row-major [texts.length, context length]. */
  tokenize: (texts: string[]) => Int32Array;
  /** Optimiser steps to run (the release runs iterations + 1). */
  steps: number;
  /** Length of the cosine schedule. */
  iterations: number;
  batchSize: number;
  lr: number;
  minLr: number;
  schedule?: "cosine" | "constant";
  weightDecay: number;
  betas: [number, number];
  seed: number;
  /** Deltas of the earlier tasks, in order: their AGO columns form the bank. */
  history?: readonly TaskDelta[];
  onProgress?: (step: number, total: number, loss: number) => void;
  signal?: AbortSignal;
  /**
   * Per-block gradient checkpointing of both encoders (`EncodeOptions.checkpoint`): the same
   * gradients (bit for bit on cpu and wasm) with a fraction of the step's memory, for one more
   * forward pass of the blocks. Default true for the expert pool and its variants (plain LoRA
   * included); full fine-tuning never checkpoints.
   */
  checkpoint?: boolean;
  /**
   * Warm start: every adapted module's starting A, B and router (release layouts), e.g. a
   * release checkpoint read by `readAdapterFolder`. Without it, fresh values are drawn from
   * `seed` (new A, zero B, new router). Counts start at zero either way; only the expert pool
   * and its variants have adapters to start.
   */
  initialAdapters?: InitialAdapters;
}

export interface TrainResult {
  delta: TaskDelta;
  /** Total loss per step. */
  losses: number[];
  /** The AGO term (unweighted) per step; empty when the method has none or on the first task. */
  agoLosses: number[];
  /** How the training ran (speed, memory, machine); null when nothing trains. */
  stats: TrainRunStats | null;
}

/** Same-label pairs are positives: [batch, batch], each row summing to 1. */
export function targetMatrix(labels: readonly number[]): Float32Array {
  const n = labels.length;
  const targets = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let same = 0;
    for (let j = 0; j < n; j++) if (labels[i] === labels[j]) same++;
    for (let j = 0; j < n; j++) if (labels[i] === labels[j]) targets[i * n + j] = 1 / same;
  }
  return targets;
}

/** Cross-entropy with probability targets, averaged over rows (torch F.cross_entropy). */
function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1)));
}

/**
 * x / ‖x‖ per row. tf.norm is sqrt(sum(|x|²)), so its gradient passes through tf.abs's step(x, -1)
 * (-1 at 0), but times 2|x| = 0: an entry that is exactly 0 gets torch's gradient.
 */
export function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.norm(x, 2, 1, true));
}

/**
 * The release's contrastive loss: texts [b, e] and images [b, e] (not normalised),
 * `targets` [b, b] from `targetMatrix`.
 */
export function clipLoss(
  textFeatures: tf.Tensor2D,
  imageFeatures: tf.Tensor2D,
  options: { logitScale: tf.Scalar; targets: tf.Tensor2D },
): tf.Scalar {
  const text = normalizeRows(textFeatures);
  const image = normalizeRows(imageFeatures);
  // [b_text, b_image]; explicit transpose: no transposeB flag (slow on tfjs-wasm).
  const logitsPerText = tf.mul(tf.matMul(text, tf.transpose(image)), tf.exp(options.logitScale));
  const textLoss = softCrossEntropy(logitsPerText as tf.Tensor2D, options.targets);
  const imageLoss = softCrossEntropy(
    tf.transpose(logitsPerText) as tf.Tensor2D,
    tf.transpose(options.targets),
  );
  return tf.div(tf.add(textLoss, imageLoss), 2);
}

/** Variables replacing every backbone tensor of `model` (a private clone) for full fine-tuning. */
function makeBackboneTrainable(model: ClipModel): tf.Variable[] {
  return modelSlots(model).map((slot) => {
    const tensor = slot.get();
    const variable = tf.variable(tensor, true, `full.${slot.name}`);
    tensor.dispose();
    slot.set(variable);
    return variable;
  });
}

function checkOptions(fewShot: TrainingImages, options: TrainOptions): number[] {
  const count = isStreamed(fewShot) ? fewShot.labels.length : fewShot.pixels.shape[0];
  if (fewShot.labels.length !== count) {
    throw new UserError(
      `Task "${options.task}": ${count} images but ${fewShot.labels.length} labels`,
    );
  }
  const labels = Array.from(fewShot.labels);
  const bad = labels.find((label) =>
    !Number.isInteger(label) || label < 0 || label >= fewShot.classNames.length
  );
  if (bad !== undefined) {
    throw new UserError(
      `Task "${options.task}": label ${bad} has no class name (${fewShot.classNames.length} classes)`,
    );
  }
  if (count < options.batchSize) {
    throw new UserError(
      `Task "${options.task}": ${count} training images are fewer than one batch of ` +
        `${options.batchSize} (batches drop the remainder); lower train.batch_size`,
    );
  }
  return labels;
}

/**
 * Trains one task and returns its delta (merged experts, counts, router) and loss curve. Values
 * are read back asynchronously (WebGPU has no synchronous reads), each loss before the update.
 */
export async function trainTask(
  model: ClipModel,
  fewShot: TrainingImages,
  options: TrainOptions,
): Promise<TrainResult> {
  const { method } = options;
  const rng = new SeededRng(options.seed);
  const initRng = rng.fork();
  const shuffleRng = rng.fork();
  const dropoutRng = rng.fork();
  const emptyDelta = (dense: DenseUpdate[]): TaskDelta => ({
    task: options.task,
    method: method.name,
    rank: method.rank,
    scale: method.alpha / method.rank,
    modules: [],
    dense,
  });
  if (options.initialAdapters !== undefined && method.adapter !== "expert-pool") {
    throw new UserError(
      `Task "${options.task}": method ${method.name} has no adapters to start from ` +
        `${options.initialAdapters.source}`,
    );
  }
  if (method.adapter === "none") {
    return { delta: emptyDelta([]), losses: [], agoLosses: [], stats: null };
  }
  const labels = checkOptions(fewShot, options);
  // The method's own step size relative to the pipeline's (full fine-tuning: far smaller). A
  // preset without lr_scale has none in its params, so its key is unchanged: 1. Asked with `in`,
  // as the params hold it or not.
  const lrScale = "lrScale" in method ? method.lrScale ?? 1 : 1;

  // What trains, and the linear hook that uses it.
  let working: ClipModel = model;
  let variables: tf.Variable[];
  let linear: LinearApply;
  let pool: ReturnType<typeof createAdapterPool> | null = null;
  if (method.adapter === "full") {
    working = cloneModel(model);
    variables = makeBackboneTrainable(working);
    linear = plainLinear;
  } else {
    pool = createAdapterPool(model.arch, method, {
      rng: initRng,
      initial: options.initialAdapters,
    });
    variables = trainableVariables(pool);
    linear = poolLinear(pool, { training: true, rng: dropoutRng });
  }
  const checkpoint = pool !== null && (options.checkpoint ?? true);
  const useAgo = pool !== null && method.ago.enabled && method.ago.weight > 0;
  const bank = agoTensors(useAgo ? agoBank(options.history ?? []) : new Map());
  const optimizer = new AdamW(variables, {
    weightDecay: options.weightDecay,
    betas: options.betas,
  });
  const losses: number[] = [];
  const agoLosses: number[] = [];
  const count = labels.length;
  const batchesPerEpoch = Math.floor(count / options.batchSize);
  const contextLength = model.arch.text.contextLength;
  let order: number[] = [];
  const machine = await measuredOn();
  // Timed and watched from the host: no read of a tensor is added to a step.
  const meter = new ThroughputMeter();
  const tensorBytes = watchTensorBytes();
  try {
    meter.start();
    for (let step = 0; step < options.steps; step++) {
      // A step's awaits may all resolve at once (cpu, wasm): give Ctrl-C a turn to be seen.
      await yieldToEventLoop();
      options.signal?.throwIfAborted();
      if (step % batchesPerEpoch === 0) {
        order = shuffleRng.shuffle(Array.from({ length: count }, (_, i) => i));
      }
      const start = (step % batchesPerEpoch) * options.batchSize;
      const batch = order.slice(start, start + options.batchSize);
      const batchLabels = batch.map((i) => labels[i]!);
      const texts = batchLabels.map((label) =>
        options.template.replaceAll("{}", fewShot.classNames[label]!)
      );
      const tokenIds = options.tokenize(texts);
      const lr = lrScale *
        (options.schedule === "constant" ? options.lr : cosineLearningRate(step, options));

      let agoKept: tf.Tensor | null = null;
      const streamed = isStreamed(fewShot)
        ? await fewShot.batch(batch, Math.floor(step / batchesPerEpoch))
        : null;
      // The next batch within this epoch (the next epoch's order is drawn when it starts).
      if (isStreamed(fewShot) && step + 1 < options.steps && (step + 1) % batchesPerEpoch !== 0) {
        const next = start + options.batchSize;
        fewShot.prefetch?.(
          order.slice(next, next + options.batchSize),
          Math.floor(step / batchesPerEpoch),
        );
      }
      const { value, grads } = tf.tidy(() => {
        const tokens = textTokens(tokenIds, contextLength); // [b, positions up to the end token]
        const pixels = streamed ??
          tf.gather((fewShot as ImagesInMemory).pixels, tf.tensor1d(batch, "int32"));
        const targets = tf.tensor2d(targetMatrix(batchLabels), [batch.length, batch.length]);
        return tf.variableGrads(() => {
          // Text first, then images, as the release (the order fixes the dropout draws).
          const textFeatures = encodeText(working, tokens, { linear, checkpoint });
          const imageFeatures = encodeImage(working, pixels, { linear, checkpoint });
          let loss = clipLoss(textFeatures, imageFeatures, {
            logitScale: working.logitScale,
            targets,
          });
          if (useAgo && pool !== null) {
            const ago = agoLoss(pool, bank, method.ago);
            if (ago !== null) {
              agoKept = tf.keep(tf.clone(ago));
              loss = tf.add(loss, tf.mul(ago, method.ago.weight));
            }
          }
          return loss;
        }, variables);
      });
      streamed?.dispose();
      // Read the loss before any further op on these tensors.
      const loss = (await value.data())[0]!;
      let agoValue: number | null = null;
      if (agoKept !== null) {
        agoValue = (await (agoKept as tf.Tensor).data())[0]!;
        (agoKept as tf.Tensor).dispose();
      }
      if (!Number.isFinite(loss)) {
        tf.dispose([value, ...Object.values(grads)]);
        throw new UserError(
          `Training task "${options.task}" diverged at step ${step + 1}/${options.steps}: ` +
            `loss is ${loss}` + (agoValue !== null ? ` (AGO term ${agoValue})` : "") +
            `; try a lower train.lr`,
        );
      }
      optimizer.applyGradients(grads, lr);
      tf.dispose([value, ...Object.values(grads)]);
      meter.done(batch.length);
      losses.push(loss);
      if (agoValue !== null) agoLosses.push(agoValue);
      options.onProgress?.(step + 1, options.steps, loss);
    }

    const throughput = meter.result();
    const stats = throughput === null ? null : trainRunStats(throughput, {
      measuredOn: machine,
      batchSize: options.batchSize,
      peakTensorBytes: tensorBytes.peak(),
      backendMemory: backendMemory(),
      checkpoint,
    });
    if (pool !== null) {
      const delta = await extractTaskDelta(pool, { task: options.task });
      return { delta, losses, agoLosses, stats };
    }
    const dense = [];
    for (const slot of modelSlots(working)) {
      const tensor = slot.get();
      dense.push({
        name: slot.name,
        shape: tensor.shape,
        data: Float32Array.from(await tensor.data()),
      });
    }
    return { delta: emptyDelta(dense), losses, agoLosses, stats };
  } finally {
    tensorBytes.stop();
    optimizer.dispose();
    disposeAgoTensors(bank);
    if (pool !== null) disposeAdapterPool(pool);
    if (working !== model) disposeModel(working);
  }
}
