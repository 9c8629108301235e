/**
 * Stage `evaluate`'s run (declared in ../evaluate.ts): top-1 accuracy of a state on a prepared
 * split, on the state's encoder.
 */
import type { JobContext } from "../../cache/job.ts";
import { describeEncoder } from "../../clip/encoder.ts";
import { npyToFloat32, readNpy } from "../../io/npy.ts";
import { evaluate } from "../../mtil/evaluate.ts";
import { PreparedSplitReader } from "../../mtil/image_set.ts";
import type { EvaluateParams } from "../evaluate.ts";
import { input, stateEncoder, writeJson } from "./context.ts";

/** What `accuracy.json` holds. */
export interface AccuracyRecord {
  dataset: string;
  top1: number;
  correct: number;
  total: number;
  perClassCorrect: number[];
  perClassTotal: number[];
}

export async function run(ctx: JobContext, params: EvaluateParams): Promise<void> {
  const encoder = await stateEncoder(ctx);
  ctx.log(`engine: ${describeEncoder(encoder)}`);
  const headPath = `${input(ctx, "head").dir}/head.npy`;
  const head = npyToFloat32(await readNpy(headPath), headPath);
  const split = await PreparedSplitReader.open(`${input(ctx, "prepared").dir}/images`);
  let accuracy;
  try {
    accuracy = await evaluate(encoder, {
      images: split,
      labels: split.labels,
      head,
      batchSize: params.batchSize,
      onProgress: (done: number, total: number) => ctx.progress(done, total, "images"),
      signal: ctx.signal,
    });
  } finally {
    split.close();
  }
  if (accuracy.stats !== null) ctx.recordStats(accuracy.stats);
  const record: AccuracyRecord = {
    dataset: split.dataset,
    top1: accuracy.top1,
    correct: accuracy.correct,
    total: accuracy.total,
    perClassCorrect: Array.from(accuracy.perClassCorrect),
    perClassTotal: Array.from(accuracy.perClassTotal),
  };
  await writeJson(ctx.outDir, "accuracy.json", record);
  const speed = accuracy.stats?.imagesPerSecond;
  ctx.log(
    `${split.dataset}: ${accuracy.top1.toFixed(2)}% (${accuracy.correct}/${accuracy.total})` +
      (speed == null ? "" : `, ${speed.toFixed(1)} images/s`),
  );
}
