/**
 * Stage `merge` (per task): the part of a trained task that becomes weights. Keeps each module's
 * merged experts (A rows, B columns) and any dense update, and drops what only training and
 * analysis need (router, AGO columns). The model state after task t is the base weights plus the
 * merge artifacts of tasks 1..t, applied in order: W <- W + (alpha/r) B[:, top] A[top, :].
 */
import { loadTaskDelta, saveTaskDelta } from "../method/delta_io.ts";
import { defineStage, input, writeJson } from "./common.ts";

export const mergeStage = defineStage<{ train: string }, Record<never, never>>({
  kind: "merge",
  version: 1,
  declare: (args) => ({ params: {}, inputs: { train: args.train } }),
  async run(ctx) {
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
  },
});
