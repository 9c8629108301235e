/**
 * Stage `orthogonalize` (per task): the AGO bank after task t, i.e. per module the B columns of
 * the critical (most-activated) experts of tasks 1..t, which the next task's AGO loss keeps its
 * own critical B columns orthogonal to. bank_t = bank_(t-1) ++ critical columns of task t, joined
 * by `agoBank` (method/delta.ts), the same join training applies to the deltas it is given.
 * Its run: run/orthogonalize.ts.
 */
import { defineStage } from "./common.ts";

export const orthogonalizeStage = defineStage<
  { previous: string | null; train: string },
  Record<never, never>
>({
  kind: "orthogonalize",
  version: 1,
  declare: (args) => ({
    params: {},
    inputs: { train: args.train, ...(args.previous === null ? {} : { previous: args.previous }) },
  }),
});
