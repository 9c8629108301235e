/**
 * Stage `orthogonalize` (per task): the AGO bank after task t, i.e. per module the B columns of
 * the critical (most-activated) experts of tasks 1..t, which the next task's AGO loss keeps its
 * own critical B columns orthogonal to. bank_t = bank_(t-1) ++ critical columns of task t, joined
 * by `agoBank` (method/delta.ts), the same join training applies to the deltas it is given.
 */
import { agoBank, agoBankDelta } from "../method/delta.ts";
import { loadTaskDelta, saveTaskDelta } from "../method/delta_io.ts";
import { defineStage, input, writeJson } from "./common.ts";

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
  async run(ctx) {
    const trained = await loadTaskDelta(`${input(ctx, "train").dir}/delta.safetensors`);
    const previous = ctx.inputs.previous === undefined
      ? []
      : [await loadTaskDelta(`${input(ctx, "previous").dir}/bank.safetensors`)];
    const bank = agoBank([...previous, trained]);
    await saveTaskDelta(
      `${ctx.outDir}/bank.safetensors`,
      agoBankDelta(bank, {
        task: `ago-bank-after-${trained.task}`,
        method: trained.method,
        rank: trained.rank,
        scale: trained.scale,
      }),
    );
    const columns = [...bank.values()].reduce((sum, entry) => sum + entry.count, 0);
    await writeJson(ctx.outDir, "bank.json", { modules: bank.size, columns });
    ctx.log(`AGO bank: ${columns} B columns over ${bank.size} modules`);
  },
});
