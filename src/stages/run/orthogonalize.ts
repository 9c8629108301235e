/**
 * Stage `orthogonalize`'s run (declared in ../orthogonalize.ts): the previous bank joined with
 * the task's AGO columns.
 */
import type { JobContext } from "../../cache/job.ts";
import { agoBank, agoBankDelta } from "../../method/delta.ts";
import { loadTaskDelta, saveTaskDelta } from "../../method/delta_io.ts";
import { input, writeJson } from "./context.ts";

export async function run(ctx: JobContext): Promise<void> {
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
}
