/**
 * Stage `train` (per task) = route + adapt: trains a fresh adapter (rank-1 expert pool, router,
 * AGO against the bank of earlier tasks) on the model state after the previous task, with the
 * task's few-shot set, and writes the task delta: the merged experts' A rows and B columns,
 * every module's activation counts and router, and the B columns this task adds to the AGO bank
 * (`delta.safetensors`), the loss curve (`losses.json`) and the routing statistics
 * (`activations.json`: per module, the votes each expert received over the task).
 *
 * A few-shot set's stored pixels are held as one tensor. A full-shot set (stored without images)
 * is streamed from the data root instead: each batch decoded when the loop needs it and cropped
 * anew per epoch (src/mtil/stream.ts), so only the full-shot job has the data root among its
 * params and inputs.
 */
import * as tf from "@tensorflow/tfjs";
import { normalizeUint8 } from "../io/image.ts";
import type { MethodConfig } from "../method/config.ts";
import { loadTaskDelta, saveTaskDelta } from "../method/delta_io.ts";
import type { TaskDelta } from "../method/delta.ts";
import { type TrainingImages, trainTask } from "../method/train.ts";
import { readImageSet } from "../mtil/image_set.ts";
import { openStreamedImages } from "../mtil/stream.ts";
import {
  dataInputs,
  type DataParams,
  dataParams,
  dataRoot,
  type DataSource,
  dataSources,
  defineStage,
  deltaInputs,
  input,
  modelDescriptor,
  modelState,
  tokenizerFor,
  writeJson,
} from "./common.ts";

/** The training settings of a task: all a train job reads besides its inputs. */
export interface TrainSettings {
  method: MethodConfig;
  /** The task's dataset. */
  task: string;
  template: string;
  steps: number;
  iterations: number;
  batchSize: number;
  lr: number;
  minLr: number;
  schedule: "cosine" | "constant";
  weightDecay: number;
  betas: [number, number];
  seed: number;
}

export interface TrainArgs extends TrainSettings {
  model: string;
  /** Merge jobs of the earlier tasks, in order: the model state this task starts from. */
  deltas: string[];
  /** The orthogonalize job holding the AGO bank after the previous task, or null (task 1). */
  bank: string | null;
  fewshot: string;
  /**
   * Where a full-shot set's images are read from (its fewshot artifact lists them without
   * pixels); null for a few-shot set, whose job then does not depend on the data root.
   */
  data: DataSource | null;
}

/** The settings, and for a full-shot task where its images are streamed from (else null). */
export type TrainParams = TrainSettings & { data: DataParams | null };

/** uint8 [N, s, s, 3] -> normalised float [N, 3, s, s]. */
export function pixelsTensor(images: Uint8Array, count: number, size: number): tf.Tensor4D {
  const plane = size * size * 3;
  const out = new Float32Array(count * plane);
  for (let i = 0; i < count; i++) {
    out.set(normalizeUint8(images.subarray(i * plane, (i + 1) * plane), size), i * plane);
  }
  return tf.tensor4d(out, [count, 3, size, size]);
}

export const trainStage = defineStage<TrainArgs, TrainParams>({
  kind: "train",
  // 2: the AGO term's gradient is sign(x), 0 at x = 0 (torch's), not tf.abs's -1: tasks after
  // the first train differently with the same params, so results of version 1 are stale.
  // 3: the LoRA dropout noise is drawn token-major (method/pool.ts), so a seed drops other
  // entries than version 2 did.
  version: 3,
  declare(args) {
    const { model, deltas, bank, fewshot, data, ...settings } = args;
    return {
      params: { ...settings, data: data === null ? null : dataParams(data) },
      inputs: {
        model,
        fewshot,
        ...deltaInputs(deltas),
        ...(bank === null ? {} : { bank }),
        ...(data === null ? {} : dataInputs(data)),
      },
    };
  },
  sources: (params) => params.data === null ? {} : dataSources(params.data, params.task),
  async run(ctx, params) {
    const descriptor = await modelDescriptor(ctx);
    const tokenizer = await tokenizerFor(ctx, descriptor);
    const model = await modelState(ctx);
    const { set, extra } = await readImageSet(`${input(ctx, "fewshot").dir}/images`);
    const history: TaskDelta[] = ctx.inputs.bank === undefined
      ? []
      : [await loadTaskDelta(`${input(ctx, "bank").dir}/bank.safetensors`)];
    let images: TrainingImages;
    let pixels: tf.Tensor4D | null = null;
    if (set.images !== null) {
      pixels = pixelsTensor(set.images, set.labels.length, set.size);
      images = { pixels, labels: set.labels, classNames: set.classNames };
    } else {
      if (params.data === null || typeof extra.seed !== "number") {
        throw new Error(`${ctx.id}: the few-shot set holds no images and no way to read them`);
      }
      images = await openStreamedImages(dataRoot(ctx, params.data), {
        dataset: set.dataset,
        sampleIndices: set.sampleIndices,
        expectedLabels: set.labels,
        size: set.size,
        seed: extra.seed,
        signal: ctx.signal,
      });
    }
    let result;
    try {
      ctx.log(
        `${params.task}: ${set.labels.length} images` +
          (pixels === null ? " (streamed, cropped anew every epoch)" : "") +
          `, ${set.classNames.length} classes, ${params.steps} steps, lr ${params.lr}, ` +
          `template "${params.template}"`,
      );
      result = await trainTask(model, images, {
        method: params.method,
        task: params.task,
        template: params.template,
        tokenize: (texts) => tokenizer.tokenize(texts, { contextLength: descriptor.contextLength }),
        steps: params.steps,
        iterations: params.iterations,
        batchSize: params.batchSize,
        lr: params.lr,
        minLr: params.minLr,
        schedule: params.schedule,
        weightDecay: params.weightDecay,
        betas: params.betas,
        seed: params.seed,
        history,
        onProgress: (step, total, loss) => ctx.progress(step, total, `loss ${loss.toFixed(4)}`),
        signal: ctx.signal,
      });
    } finally {
      pixels?.dispose();
    }
    const { delta, losses, agoLosses, stats } = result;
    if (stats !== null) ctx.recordStats(stats);
    await saveTaskDelta(`${ctx.outDir}/delta.safetensors`, delta);
    await writeJson(ctx.outDir, "losses.json", { loss: losses, ago: agoLosses });
    await writeJson(
      ctx.outDir,
      "activations.json",
      Object.fromEntries(delta.modules.map((m) => [m.name, Array.from(m.counts)])),
    );
    const first = losses[0];
    const last = losses[losses.length - 1];
    if (first !== undefined && last !== undefined) {
      ctx.log(`${params.task}: loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
    }
    if (stats?.stepsPerSecond != null) {
      ctx.log(
        `${params.task}: ${stats.stepsPerSecond.toFixed(2)} steps/s after the first step ` +
          `(${stats.firstStepSeconds.toFixed(2)} s), on ${stats.measuredOn.engine} ` +
          `${stats.measuredOn.backend}`,
      );
    }
  },
});
