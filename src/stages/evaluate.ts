/**
 * Stage `evaluate` (per model state and dataset): top-1 accuracy of the state's plain CLIP (merged
 * weights: no router, no task id) on the prepared test split, with the state's zero-shot head.
 * Writes `accuracy.json` (top-1 in percent, counts, per-class counts).
 */
import { npyToFloat32, readNpy } from "../io/npy.ts";
import { evaluate } from "../mtil/evaluate.ts";
import { readPrepared } from "../mtil/prepare.ts";
import { defineStage, deltaInputs, input, modelState, writeJson } from "./common.ts";

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
  async run(ctx, params) {
    const model = await modelState(ctx);
    const prepared = await readPrepared(`${input(ctx, "prepared").dir}/images`);
    const headPath = `${input(ctx, "head").dir}/head.npy`;
    const head = npyToFloat32(await readNpy(headPath), headPath);
    const accuracy = await evaluate(model, {
      images: prepared.images,
      labels: prepared.labels,
      head,
      batchSize: params.batchSize,
      onProgress: (done: number, total: number) => ctx.progress(done, total, "images"),
      signal: ctx.signal,
    });
    const record: AccuracyRecord = {
      dataset: prepared.dataset,
      top1: accuracy.top1,
      correct: accuracy.correct,
      total: accuracy.total,
      perClassCorrect: Array.from(accuracy.perClassCorrect),
      perClassTotal: Array.from(accuracy.perClassTotal),
    };
    await writeJson(ctx.outDir, "accuracy.json", record);
    ctx.log(
      `${prepared.dataset}: ${accuracy.top1.toFixed(2)}% (${accuracy.correct}/${accuracy.total})`,
    );
  },
});
