/**
 * Stage `prepare` (per dataset and split): decodes and preprocesses every image of a split once
 * (resize shortest side + centre crop to the model's image size, bicubic) into a uint8 tensor, so
 * the evaluation after every task never decodes an image again.
 */
import { prepareSplit, writePrepared } from "../mtil/prepare.ts";
import {
  dataInputs,
  dataParams,
  dataRoot,
  type DataSource,
  type StageDefinition,
  stageJob,
} from "./common.ts";

export interface PrepareArgs {
  data: DataSource;
  /** Square side the model sees (its architecture's image size). */
  size: number;
  dataset: string;
  split: "train" | "test";
  limit: number | null;
}

export const prepareStage: StageDefinition<PrepareArgs> = {
  kind: "prepare",
  version: 1,
  job(id, args) {
    return stageJob(this, id, {
      params: {
        data: dataParams(args.data),
        dataset: args.dataset,
        split: args.split,
        size: args.size,
        limit: args.limit,
      },
      inputs: dataInputs(args.data),
      async run(ctx) {
        const imageSize = args.size;
        const prepared = await prepareSplit(dataRoot(ctx), {
          dataset: args.dataset,
          split: args.split,
          size: imageSize,
          limit: args.limit ?? undefined,
          onProgress: (done, total) => ctx.progress(done, total, "images"),
          signal: ctx.signal,
        });
        ctx.log(
          `${args.dataset} ${args.split}: ${prepared.labels.length} images at ${imageSize}px`,
        );
        await writePrepared(`${ctx.outDir}/images`, prepared);
      },
    });
  },
};
