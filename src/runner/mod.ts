/** The job runner: plan (cache status and rerun reasons), run, execute one job, signals. */
export { isForced, planJobs, type PlanOptions, topologicalOrder } from "./plan.ts";
export { JobFailed, RunInterrupted, runJobs, selectUntil, silentDisplay } from "./run.ts";
export { Interruption } from "./errors.ts";
export { runRecordedJob } from "./record.ts";
export { type Interrupt, interruptOnSignals } from "./signals.ts";
export type * from "./types.ts";
