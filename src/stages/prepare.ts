/**
 * Stage `prepare` (per dataset and split): decodes and preprocesses every image of a split once
 * (resize shortest side + centre crop to the model's image size, bicubic) into a uint8 tensor, so
 * the evaluation after every task never decodes an image again. Reads the dataset's folder under
 * the data root (its source) or the synthetic `data` artifact.
 * Its run: run/prepare.ts.
 */
import {
  dataInputs,
  type DataParams,
  dataParams,
  type DataSource,
  dataSources,
  defineStage,
} from "./common.ts";

export interface PrepareArgs {
  data: DataSource;
  /** Square side the model sees (its architecture's image size). */
  size: number;
  dataset: string;
  split: "train" | "test";
  limit: number | null;
}

export interface PrepareParams {
  data: DataParams;
  dataset: string;
  split: "train" | "test";
  size: number;
  limit: number | null;
}

export const prepareStage = defineStage<PrepareArgs, PrepareParams>({
  kind: "prepare",
  version: 1,
  declare(args) {
    return {
      params: {
        data: dataParams(args.data),
        dataset: args.dataset,
        split: args.split,
        size: args.size,
        limit: args.limit,
      },
      inputs: dataInputs(args.data),
    };
  },
  sources: (params) => dataSources(params.data, params.dataset),
});
