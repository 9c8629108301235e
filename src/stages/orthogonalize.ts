/**
 * Stage `orthogonalize` (per task): the AGO bank after task t, i.e. per module the B columns of
 * the critical (most-activated) experts of tasks 1..t, which the next task's AGO loss keeps its
 * own critical B columns orthogonal to. bank_t = bank_(t-1) ++ critical columns of task t.
 */
import { loadTaskDelta, saveTaskDelta } from "../method/delta_io.ts";
import type { ModuleDelta, TaskDelta } from "../method/delta.ts";
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
      ? null
      : await loadTaskDelta(`${input(ctx, "previous").dir}/bank.safetensors`);
    const rows = new Map<string, ModuleDelta>();
    for (const module of [...(previous?.modules ?? []), ...trained.modules]) {
      const kept = rows.get(module.name);
      const agoRows = kept === undefined ? module.agoRows : concat(kept.agoRows, module.agoRows);
      rows.set(module.name, {
        name: module.name,
        dIn: module.dIn,
        dOut: module.dOut,
        experts: [],
        down: new Float32Array(0),
        up: new Float32Array(0),
        counts: new Float64Array(0),
        agoRows,
        router: null,
      });
    }
    const bank: TaskDelta = {
      task: `ago-bank-after-${trained.task}`,
      method: trained.method,
      rank: trained.rank,
      scale: trained.scale,
      modules: [...rows.values()],
      dense: [],
    };
    await saveTaskDelta(`${ctx.outDir}/bank.safetensors`, bank);
    const columns = bank.modules.reduce((sum, m) => sum + m.agoRows.length / m.dOut, 0);
    await writeJson(ctx.outDir, "bank.json", { modules: bank.modules.length, columns });
    ctx.log(`AGO bank: ${columns} B columns over ${bank.modules.length} modules`);
  },
});

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
