/**
 * Stage `merge`'s run (declared in ../merge.ts): the trained delta without router and AGO columns.
 */
import type { JobContext } from "../../cache/job.ts";
import { loadTaskDelta, saveTaskDelta } from "../../method/delta_io.ts";
import { input, writeJson } from "./context.ts";

export async function run(ctx: JobContext): Promise<void> {
  const trained = await loadTaskDelta(`${input(ctx, "train").dir}/delta.safetensors`);
  const merged = {
    ...trained,
    modules: trained.modules.map((module) => ({
      ...module,
      agoRows: new Float32Array(0),
      router: null,
    })),
  };
  await saveTaskDelta(`${ctx.outDir}/delta.safetensors`, merged);
  const experts = merged.modules.reduce((sum, module) => sum + module.experts.length, 0);
  await writeJson(ctx.outDir, "merge.json", {
    task: merged.task,
    modules: merged.modules.length,
    mergedExperts: experts,
    denseTensors: merged.dense.length,
  });
  ctx.log(`${merged.task}: ${experts} experts over ${merged.modules.length} modules merged`);
}
