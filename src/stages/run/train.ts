/**
 * Stage `train`'s run (declared in ../train.ts): a task's adapter trained on the state after the
 * previous task, with its few-shot pixels held or its full-shot images streamed.
 */
import * as tf from "@tensorflow/tfjs";
import type { JobContext } from "../../cache/job.ts";
import { normalizeUint8 } from "../../io/image.ts";
import { loadTaskDelta, saveTaskDelta } from "../../method/delta_io.ts";
import type { TaskDelta } from "../../method/delta.ts";
import { type TrainingImages, trainTask } from "../../method/train.ts";
import { readImageSet } from "../../mtil/image_set.ts";
import { openStreamedImages } from "../../mtil/stream.ts";
import type { TrainParams } from "../train.ts";
import {
  dataRoot,
  input,
  modelDescriptor,
  modelState,
  tokenizerFor,
  writeJson,
} from "./context.ts";

/** uint8 [N, s, s, 3] -> normalised float [N, 3, s, s]. */
export function pixelsTensor(images: Uint8Array, count: number, size: number): tf.Tensor4D {
  const plane = size * size * 3;
  const out = new Float32Array(count * plane);
  for (let i = 0; i < count; i++) {
    out.set(normalizeUint8(images.subarray(i * plane, (i + 1) * plane), size), i * plane);
  }
  return tf.tensor4d(out, [count, 3, size, size]);
}

export async function run(ctx: JobContext, params: TrainParams): Promise<void> {
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
}
