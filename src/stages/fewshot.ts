/**
 * Stage `fewshot` (per task): the task's training set as the release builds it: the first `shots`
 * images of each class from one seeded shuffled pass over the train split, each decoded and
 * augmented ONCE (RandomResizedCrop to the model's size, scale 0.9-1.0, bicubic) and stored as
 * uint8. Training then reuses exactly these pixels every epoch. `shots = 0` (full-shot) lists the
 * whole train split (sample indices, labels, class names) without images: the train stage streams
 * it from the data root and crops every epoch anew (src/mtil/stream.ts).
 * Its run: run/fewshot.ts.
 */
import {
  dataInputs,
  type DataParams,
  dataParams,
  type DataSource,
  dataSources,
  defineStage,
} from "./common.ts";

export interface FewShotArgs {
  data: DataSource;
  dataset: string;
  shots: number;
  seed: number;
  /** Square side the model sees. */
  size: number;
}

export interface FewShotParams {
  data: DataParams;
  dataset: string;
  shots: number;
  seed: number;
  size: number;
}

/**
 * Version of full-shot jobs: 2 since they store no images (version 1 stored the whole split,
 * augmented once). Few-shot jobs compute what they always did and keep the stage's version 1.
 */
const FULL_SHOT_VERSION = 2;

export const fewshotStage = defineStage<FewShotArgs, FewShotParams>({
  kind: "fewshot",
  version: 1,
  versionOf: (params) => params.shots === 0 ? FULL_SHOT_VERSION : 1,
  declare(args) {
    return {
      params: {
        data: dataParams(args.data),
        dataset: args.dataset,
        shots: args.shots,
        seed: args.seed,
        size: args.size,
      },
      inputs: dataInputs(args.data),
    };
  },
  sources: (params) => dataSources(params.data, params.dataset),
});
