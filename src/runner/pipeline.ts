/**
 * From a spec file to a plan: compile it into runs, build each run's jobs, share the jobs that
 * matrix runs have in common, and plan the whole graph against the cache. `run` and `plan` both
 * start here.
 */
import { UserError } from "../errors.ts";
import { buildRunGraph, type RunGraph } from "../plan/build.ts";
import { shareJobs } from "../plan/share.ts";
import { compileSpec } from "../spec/mod.ts";
import { planJobs } from "./plan.ts";
import type { Plan } from "./types.ts";

export interface PipelineRequest {
  file: string;
  /** `--set a.b=value` overrides. */
  set: string[];
  /** `--var NAME=value` variables. */
  vars: Record<string, string>;
  /** `--force` patterns: job ids, kinds or globs. */
  force: string[];
  /** Rehash every cached file instead of trusting size + mtime stamps. */
  verify: boolean;
}

export interface CompiledPlan {
  graphs: RunGraph[];
  plan: Plan;
}

export async function compileAndPlan(flags: PipelineRequest): Promise<CompiledPlan> {
  try {
    await Deno.stat(flags.file);
  } catch {
    throw new UserError(`Cannot read pipeline ${flags.file}: no such file`, { exitCode: 2 });
  }
  const compiled = compileSpec(flags.file, { set: flags.set, vars: flags.vars, cwd: Deno.cwd() });
  const matrix = compiled.runs.length > 1;
  const graphs: RunGraph[] = [];
  for (const pipeline of compiled.runs) {
    const prefix = matrix ? pipeline.runName.slice(pipeline.name.length + 1) : undefined;
    graphs.push(await buildRunGraph(pipeline, { prefix }));
  }
  const jobs = shareJobs(graphs);
  const plan = await planJobs(jobs, {
    force: flags.force,
    verify: flags.verify ? "full" : undefined,
  });
  return { graphs, plan };
}
