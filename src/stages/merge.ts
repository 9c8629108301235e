/**
 * Stage `merge` (per task): the part of a trained task that becomes weights. Keeps each module's
 * merged experts (A rows, B columns) and any dense update, and drops what only training and
 * analysis need (router, AGO columns). The model state after task t is the base weights plus the
 * merge artifacts of tasks 1..t, applied in order: W <- W + (alpha/r) B[:, top] A[top, :].
 * Its run: run/merge.ts.
 */
import { defineStage } from "./common.ts";

export const mergeStage = defineStage<{ train: string }, Record<never, never>>({
  kind: "merge",
  version: 1,
  declare: (args) => ({ params: {}, inputs: { train: args.train } }),
});
