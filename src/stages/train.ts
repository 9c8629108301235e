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
 * Its run: run/train.ts.
 */
import type { MethodConfig } from "../method/config.ts";
import {
  dataInputs,
  type DataParams,
  dataParams,
  type DataSource,
  dataSources,
  defineStage,
  deltaInputs,
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

export const trainStage = defineStage<TrainArgs, TrainParams>({
  kind: "train",
  // 2: the AGO term's gradient is sign(x), 0 at x = 0 (torch's), not tf.abs's -1: tasks after
  // the first train differently with the same params, so results of version 1 are stale.
  // 3: the LoRA dropout noise is drawn token-major (method/pool.ts), so a seed drops other
  // entries than version 2 did.
  // 4: the LoRA dropout masks come from Philox4x32 on the device (clip/dropout_mask.ts), not
  // from tf.randomUniform on the host: the same rate and scaling, other entries dropped.
  version: 4,
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
});
