/** The job runner: plan (cache status and rerun reasons), run, Ctrl-C handling. */
export { isForced, planJobs, type PlanOptions, topologicalOrder } from "./plan.ts";
export { JobFailed, RunInterrupted, runJobs, selectUntil, silentDisplay } from "./run.ts";
export { type Interrupt, interruptOnSigint } from "./signals.ts";
export type * from "./types.ts";
