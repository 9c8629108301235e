/**
 * From a spec file to a plan: compile it into runs, build each run's jobs, share the jobs that
 * matrix runs have in common, and plan the whole graph against the cache with the project's
 * stages. `run` and `plan` both start here.
 */
import type { RunLease } from "../cache/lock.ts";
import type { HashProgress } from "../cache/sources.ts";
import { CacheStore } from "../cache/store.ts";
import type { Job } from "../cache/job.ts";
import { UserError } from "../errors.ts";
import { buildRunGraph, type RunGraph } from "../plan/build.ts";
import { shareJobs } from "../plan/share.ts";
import { compileSpec, matrixPointName } from "../spec/mod.ts";
import { STAGE_RUNNERS } from "../stages/mod.ts";
import { isForced, jobStatuses } from "./status.ts";
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

export interface CompiledPipeline {
  graphs: RunGraph[];
  /** Every run's jobs, shared where runs compute the same thing. */
  jobs: Job[];
}

export interface CompiledPlan {
  graphs: RunGraph[];
  plan: Plan;
}

/** Compiles the spec into job graphs; touches nothing on disk (a bad spec writes nothing). */
export async function compilePipeline(flags: PipelineRequest): Promise<CompiledPipeline> {
  try {
    await Deno.stat(flags.file);
  } catch {
    throw new UserError(`Cannot read pipeline ${flags.file}: no such file`, { exitCode: 2 });
  }
  const compiled = compileSpec(flags.file, { set: flags.set, vars: flags.vars, cwd: Deno.cwd() });
  const matrix = compiled.runs.length > 1;
  const built: RunGraph[] = [];
  for (const pipeline of compiled.runs) {
    const prefix = matrix ? matrixPointName(pipeline.matrixPoint) : undefined;
    built.push(await buildRunGraph(pipeline, { prefix }));
  }
  const { jobs, graphs } = shareJobs(built);
  for (const pattern of flags.force) {
    if (!jobs.some((job) => isForced(job, [pattern]))) {
      throw new UserError(`--force ${pattern}: no job has this id or kind`, { exitCode: 2 });
    }
  }
  return { graphs, jobs };
}

export interface PlanRequest {
  store?: CacheStore;
  lease?: RunLease;
  onHashProgress?: (progress: HashProgress) => void;
  signal?: AbortSignal;
}

/** Plans compiled jobs against the cache (`request.store`, by default the project's). */
export async function planPipeline(
  compiled: CompiledPipeline,
  flags: PipelineRequest,
  request: PlanRequest = {},
): Promise<CompiledPlan> {
  const plan = await jobStatuses(compiled.jobs, {
    store: request.store ?? await CacheStore.open(),
    stages: STAGE_RUNNERS,
    force: flags.force,
    verify: flags.verify ? "full" : "stamp",
    lease: request.lease,
    onHashProgress: request.onHashProgress,
    signal: request.signal,
  });
  return { graphs: compiled.graphs, plan };
}

export async function compileAndPlan(
  flags: PipelineRequest,
  request: PlanRequest = {},
): Promise<CompiledPlan> {
  return await planPipeline(await compilePipeline(flags), flags, request);
}
