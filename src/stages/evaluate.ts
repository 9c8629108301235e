/**
 * Stage `evaluate` (per model state and dataset): top-1 accuracy of the state's plain CLIP (merged
 * weights: no router, no task id) on the prepared test split, with the state's zero-shot head,
 * on the run's inference engine (the state's encoder, shared with its head jobs). The split is
 * streamed from its artifact batch by batch, never held whole. Writes `accuracy.json` (top-1 in
 * percent, counts, per-class counts) and records how fast it ran (`EvaluateRunStats`, outside the
 * key).
 */
import { describeEncoder } from "../clip/encoder.ts";
import { npyToFloat32, readNpy } from "../io/npy.ts";
import { evaluate } from "../mtil/evaluate.ts";
import { PreparedSplitReader } from "../mtil/image_set.ts";
import { defineStage, deltaInputs, input, stateEncoder, writeJson } from "./common.ts";

export interface EvaluateArgs {
  model: string;
  deltas: string[];
  head: string;
  prepared: string;
  batchSize: number;
}

/** What `accuracy.json` holds. */
export interface AccuracyRecord {
  dataset: string;
  top1: number;
  correct: number;
  total: number;
  perClassCorrect: number[];
  perClassTotal: number[];
}

export const evaluateStage = defineStage<EvaluateArgs, { batchSize: number }>({
  kind: "evaluate",
  version: 1,
  declare: (args) => ({
    params: { batchSize: args.batchSize },
    inputs: {
      model: args.model,
      head: args.head,
      prepared: args.prepared,
      ...deltaInputs(args.deltas),
    },
  }),
  infers: true,
  async run(ctx, params) {
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
  },
});
