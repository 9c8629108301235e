/**
 * Stage `prepare`'s run (declared in ../prepare.ts): a split decoded, cropped and stored once.
 */
import type { JobContext } from "../../cache/job.ts";
import { writePrepared } from "../../mtil/image_set.ts";
import { prepareSplit } from "../../mtil/prepare.ts";
import type { PrepareParams } from "../prepare.ts";
import { dataRoot } from "./context.ts";

export async function run(ctx: JobContext, params: PrepareParams): Promise<void> {
  const prepared = await prepareSplit(dataRoot(ctx, params.data), {
    dataset: params.dataset,
    split: params.split,
    size: params.size,
    limit: params.limit ?? undefined,
    onProgress: (done, total) => ctx.progress(done, total, "images"),
    signal: ctx.signal,
  });
  ctx.log(
    `${params.dataset} ${params.split}: ${prepared.labels.length} images at ${params.size}px`,
  );
  await writePrepared(`${ctx.outDir}/images`, prepared);
}
