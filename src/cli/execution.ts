/**
 * How `deno task run` executes a plan: `--executor local` (the default) runs jobs in this process,
 * or with `--jobs N` in N worker processes; `--executor slurm` submits each job to Slurm as soon
 * as its inputs are ready (`--max-jobs N` queued at once, `--slurm-partition P`). All of them use
 * the same cache, locks and job records, so a run started one way can be resumed another.
 */
import { useBackend } from "../clip/backend.ts";
import type { BackendName, InferenceSetting } from "../clip/settings.ts";
import type { RunGraph } from "../plan/build.ts";
import { LocalWorkers } from "../runner/pool.ts";
import { runJobs } from "../runner/run.ts";
import { runScheduled } from "../runner/schedule.ts";
import { resourcesByJob, SlurmExecutor } from "../runner/slurm.ts";
import type { Plan, RunOptions, RunSummary } from "../runner/types.ts";
import type { PipelineFlags } from "./pipeline.ts";

export const EXECUTION_USAGE = "[--executor local|slurm] [--jobs N] [--max-jobs N] " +
  "[--slurm-partition P]";

export const EXECUTION_OPTIONS = {
  executor: { type: "string" },
  jobs: { type: "string" },
  "max-jobs": { type: "string" },
  "slurm-partition": { type: "string" },
} as const;

export type Execution =
  | { executor: "local"; jobs: number }
  | { executor: "slurm"; maxJobs: number; partition?: string };

/** Slurm jobs one run keeps queued or running at most, unless `--max-jobs` says otherwise. */
export const DEFAULT_MAX_JOBS = 100;

/** The execution the flags ask for, or the usage problem with them. */
export function parseExecution(flags: PipelineFlags): Execution | { problem: string } {
  const executor = flags.executor ?? "local";
  const count = (flag: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const number = Number(value);
    return Number.isInteger(number) && number >= 1
      ? number
      : `${flag} ${value}: expected a whole number of at least 1`;
  };
  if (executor === "local") {
    for (
      const [flag, value] of [["--max-jobs", flags.maxJobs], [
        "--slurm-partition",
        flags.slurmPartition,
      ]]
    ) {
      if (value !== undefined) return { problem: `${flag} is for --executor slurm` };
    }
    const jobs = count("--jobs", flags.jobs, 1);
    return typeof jobs === "string" ? { problem: jobs } : { executor, jobs };
  }
  if (executor === "slurm") {
    if (flags.jobs !== undefined) {
      return { problem: "--jobs is for --executor local; with slurm, --max-jobs caps the queue" };
    }
    const maxJobs = count("--max-jobs", flags.maxJobs, DEFAULT_MAX_JOBS);
    if (typeof maxJobs === "string") return { problem: maxJobs };
    return { executor, maxJobs, partition: flags.slurmPartition };
  }
  return { problem: `--executor ${executor}: expected local or slurm` };
}

/**
 * Executes `plan` as `execution` says; returns the summary and the backend to report (for Slurm,
 * the requested one: each node resolves `auto` for itself). Workers get the inference setting as
 * asked, and resolve it where they run.
 */
export async function executePlan(
  plan: Plan,
  context: {
    execution: Execution;
    graphs: RunGraph[];
    backend: BackendName;
    inference: InferenceSetting;
    options: Pick<RunOptions, "until" | "display" | "signal">;
  },
): Promise<{ summary: RunSummary; backend: string }> {
  const { execution, options, inference } = context;
  const verify = plan.verify === "full";
  if (execution.executor === "slurm") {
    const executor = new SlurmExecutor({
      store: plan.store,
      resources: resourcesByJob(context.graphs),
      partition: execution.partition,
      maxJobs: execution.maxJobs,
      backend: context.backend,
      inference,
      verify,
    });
    return {
      summary: await runScheduled(plan, { ...options, executor }),
      backend: context.backend,
    };
  }
  const backend = await useBackend(context.backend);
  if (execution.jobs === 1) {
    return { summary: await runJobs(plan, { ...options, backend, inference }), backend };
  }
  const executor = new LocalWorkers({
    slots: execution.jobs,
    cacheRoot: plan.store.root,
    backend,
    inference,
    verify,
  });
  return { summary: await runScheduled(plan, { ...options, executor }), backend };
}
