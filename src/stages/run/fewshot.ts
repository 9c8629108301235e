/**
 * Stage `fewshot`'s run (declared in ../fewshot.ts): the task's training set drawn, augmented
 * once and stored (full-shot: listed only).
 */
import type { JobContext } from "../../cache/job.ts";
import { buildFewShotSet, writeFewShotSet } from "../../mtil/fewshot_set.ts";
import type { FewShotParams } from "../fewshot.ts";
import { dataRoot } from "./context.ts";

export async function run(ctx: JobContext, params: FewShotParams): Promise<void> {
  const set = await buildFewShotSet(dataRoot(ctx, params.data), {
    dataset: params.dataset,
    shots: params.shots,
    seed: params.seed,
    size: params.size,
    onProgress: (done, total) => ctx.progress(done, total, "images"),
    signal: ctx.signal,
  });
  await writeFewShotSet(`${ctx.outDir}/images`, set);
  ctx.log(
    `${params.dataset}: ${set.labels.length} images (${params.shots || "all"} per class, ` +
      `${set.classNames.length} classes)` +
      (set.images === null ? ", listed only: training streams them from the data root" : ""),
  );
}
