/**
 * The job runner: plan (cache status and rerun reasons), run (here, one job at a time, or several
 * at once in local worker processes or as Slurm jobs), execute one job, signals.
 */
export { isForced, jobStatuses, type PlanOptions, topologicalOrder } from "./status.ts";
export { JobFailed, RunInterrupted, runJobs, selectUntil, silentDisplay } from "./run.ts";
export { Interruption } from "./errors.ts";
export { runRecordedJob } from "./record.ts";
export { LocalWorkers } from "./pool.ts";
export { type JobExecutor, runScheduled } from "./schedule.ts";
export { SlurmExecutor } from "./slurm.ts";
export { type Interrupt, interruptOnSignals } from "./signals.ts";
export type * from "./types.ts";
