/**
 * Stage `evaluate` (per model state and dataset): top-1 accuracy of the state's plain CLIP (merged
 * weights: no router, no task id) on the prepared test split, with the state's zero-shot head,
 * on the run's inference engine (the state's encoder, shared with its head jobs). The split is
 * streamed from its artifact batch by batch, never held whole. Writes `accuracy.json` (top-1 in
 * percent, counts, per-class counts) and records how fast it ran (`EvaluateRunStats`, outside the
 * key).
 * Its run: run/evaluate.ts.
 */
import { defineStage, deltaInputs } from "./common.ts";

export interface EvaluateArgs {
  model: string;
  deltas: string[];
  head: string;
  prepared: string;
  batchSize: number;
}

export interface EvaluateParams {
  batchSize: number;
}

export const evaluateStage = defineStage<EvaluateArgs, EvaluateParams>({
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
});
