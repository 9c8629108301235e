/**
 * A run's efficiency figures (the paper's Table 2, src/mtil/efficiency.ts) from what its jobs
 * recorded about how they ran: each train and evaluate job's figures, stored beside its artifact
 * (`run.json`, outside the key). They are read when the results folder is written, never inside a
 * cached job: a cached job shows the figures of the run that made it, and the report job's key
 * does not change with them.
 */
import { join } from "node:path";
import type { CacheStore } from "../cache/store.ts";
import type { ClipArch } from "../clip/arch.ts";
import { parseTrainRunStats } from "../method/train_stats.ts";
import { pipelineEfficiency, type RunEfficiency } from "../mtil/efficiency.ts";
import { parseEvaluateRunStats } from "../mtil/evaluate_stats.ts";
import {
  type EfficiencyReference,
  efficiencyReference,
  loadReference,
  settingGroup,
} from "../mtil/reference.ts";
import type { RunGraph } from "../plan/build.ts";
import { UserError } from "../errors.ts";
import type { JobResult } from "./types.ts";

export interface RunFigures {
  efficiency: RunEfficiency;
  /** The published figures shown under the table (the run's reference file), or null. */
  reference: { group: string; efficiency: EfficiencyReference } | null;
}

/** The efficiency of `graph`'s run from its jobs' `results` (every job of the run among them). */
export async function runFigures(
  store: CacheStore,
  run: { graph: RunGraph; results: readonly JobResult[] },
): Promise<RunFigures> {
  const { graph } = run;
  const byId = new Map(run.results.map((result) => [result.id, result]));
  const resultOf = (id: string) => {
    const result = byId.get(id);
    if (result === undefined) throw new Error(`efficiency: job ${id} has no result in this run`);
    return result;
  };
  const jobsOf = (kind: string) => graph.jobs.filter((job) => job.kind === kind);
  const model = jobsOf("model")[0];
  if (model === undefined) {
    throw new Error(`efficiency: run ${graph.pipeline.runName} has no model`);
  }
  const arch = await readArch(resultOf(model.id).dir);
  const trains = [];
  for (const job of jobsOf("train")) { // in task order, as the graph lists them
    trains.push(parseTrainRunStats(await store.readRunStats(resultOf(job.id).key)));
  }
  const evaluations = [];
  for (const job of jobsOf("evaluate")) {
    // The state an evaluation is of: the number of task deltas merged into its model.
    const state = Object.keys(job.inputs).filter((name) => name.startsWith("delta-")).length;
    const stats = parseEvaluateRunStats(await store.readRunStats(resultOf(job.id).key));
    evaluations.push({ state, stats });
  }
  const { pipeline } = graph;
  let reference: RunFigures["reference"] = null;
  if (pipeline.report.reference !== null) {
    const file = await loadReference(pipeline.report.reference);
    reference = efficiencyReference(file, settingGroup(file, pipeline.benchmark));
  }
  return { efficiency: pipelineEfficiency(pipeline, { arch, trains, evaluations }), reference };
}

/** The `model` artifact's `arch.json` (stages/model.ts). */
async function readArch(modelDir: string): Promise<ClipArch> {
  const path = join(modelDir, "arch.json");
  try {
    return JSON.parse(await Deno.readTextFile(path)) as ClipArch;
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
