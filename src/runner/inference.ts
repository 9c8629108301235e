/**
 * A run's inference engine, resolved once before its first job when a job that will run infers
 * (a stage with `infers`: head, evaluate). An explicit engine or device this machine cannot give
 * stops the run there (UserError, exit 2) rather than after hours of training, and `auto`'s pick,
 * or its fallback to TF.js with the reason, is told once. A run whose inferring jobs are all
 * cached never loads ONNX Runtime. Each job then opens its state's encoder with the same setting
 * (ONNX Runtime's probes are kept per process, so it gets the same choice).
 *
 * A process executing jobs of another (a cluster worker) is given the setting as asked, not as
 * resolved here: `auto` is resolved on the machine that runs the job.
 */
import { type EngineChoice, resolveEngine } from "../clip/encoder.ts";
import type { InferenceSetting } from "../clip/settings.ts";
import type { StageRegistry } from "../cache/job.ts";
import { selectUntil } from "./run.ts";
import type { Plan } from "./types.ts";

/** Ids of the jobs (up to `until`) that may run and infer: neither cached nor without engine. */
export function jobsThatInfer(
  plan: Plan,
  options: { until?: string; stages?: StageRegistry } = {},
): string[] {
  const stages = options.stages ?? plan.stages ?? {};
  const selected = selectUntil(plan, options.until);
  return plan.jobs
    .filter((p) => selected.has(p.job.id) && p.status !== "cached")
    .filter((p) => stages[p.job.kind]?.infers === true)
    .map((p) => p.job.id);
}

/**
 * The engine the run's inferring jobs will use, or null when none of them will run (then
 * nothing is loaded or probed).
 */
export async function resolveRunInference(
  plan: Plan,
  setting: InferenceSetting,
  options: { until?: string; stages?: StageRegistry } = {},
): Promise<EngineChoice | null> {
  if (jobsThatInfer(plan, options).length === 0) return null;
  return await resolveEngine(setting);
}
