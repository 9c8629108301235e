/** The runner's vocabulary: a plan of jobs with their cache status, results, and the display. */
import type { Job, RerunReason, StageRegistry } from "../cache/job.ts";
import type { RunLease } from "../cache/lock.ts";
import type { Artifact, CacheStore, Lookup, Verification } from "../cache/store.ts";
import type { ResourcePool } from "./resources.ts";

export type {
  InputArtifact,
  Job,
  JobContext,
  RerunReason,
  StageRegistry,
  StageRunner,
} from "../cache/job.ts";

/**
 * - cached: a valid artifact exists under the job's key (and it is not forced).
 * - run: it will run, for `reason`.
 * - pending: an input will run first; its content digest (so this job's key) is known only after,
 *   and the job may then turn out cached. `reason` is set when it will run anyway (VERSION,
 *   PARAMS or FORCED), undefined when only the input decides.
 */
export type JobStatus = "cached" | "run" | "pending";

export interface PlannedJob {
  job: Job;
  status: JobStatus;
  reason?: RerunReason;
  /** Why, in words: "lr: 0.001 -> 0.002", "never run", "waits for train/task-01". */
  detail: string;
  /** Known unless pending. */
  key?: string;
  /** Content digest of the cached artifact (status cached only). */
  digest?: string;
  /** The verified artifact (status cached only). */
  artifact?: Artifact;
  /** Content digest of each source, as hashed when planning. */
  sources: Record<string, string>;
  /** Ids of upstream jobs that will run before this one can be decided (status pending only). */
  waitingFor: string[];
}

export interface Plan {
  store: CacheStore;
  /** Every job, in a topological order (inputs first); ties keep the order jobs were given in. */
  jobs: PlannedJob[];
  /** Patterns from `force`, kept so `runJobs` forces the same jobs. */
  force: string[];
  /** How artifacts were verified; the run verifies the same way. */
  verify: Verification;
  /**
   * Every verification done for this plan, by key: the run reuses the verdicts instead of
   * checking again more leniently, so whatever the plan found corrupt is recomputed.
   */
  verdicts: Map<string, Lookup>;
  /** How jobs are executed, by kind (required to run). */
  stages?: StageRegistry;
  /** The running pipeline's registration (see cache/lock.ts), when the plan is for a run. */
  lease?: RunLease;
}

export interface JobResult {
  id: string;
  kind: string;
  status: "cached" | "ran";
  reason?: RerunReason;
  detail?: string;
  key: string;
  digest: string;
  /** The artifact's data folder. */
  dir: string;
  /** Wall seconds spent on this job in this invocation (lookup only, when cached). */
  seconds: number;
  /** Wall seconds the job's run took when the artifact was made. */
  runSeconds: number;
}

export interface RunSummary {
  results: JobResult[];
  ran: number;
  cached: number;
  seconds: number;
}

/** What a display is told; cli/progress.ts draws it on a terminal or as log lines. */
export interface RunDisplay {
  /** `ids` are the jobs this run considers (in order). */
  begin(ids: string[]): void;
  jobStart(
    id: string,
    info: { index: number; total: number; reason: RerunReason; detail: string },
  ): void;
  jobProgress(id: string, done: number, total: number, note?: string): void;
  jobLog(id: string, line: string): void;
  /** Called for cached jobs too (status "cached", without a preceding jobStart). */
  jobEnd(result: JobResult, info: { index: number; total: number }): void;
  /** Called once, also when the run failed or was interrupted (then `error` is set). */
  end(summary: RunSummary, error?: unknown): void;
}

export interface RunOptions {
  /** Stop after this job id, or after every job of this kind: only it and its upstream run. */
  until?: string;
  /** How to execute jobs, by kind; defaults to the plan's. */
  stages?: StageRegistry;
  display?: RunDisplay;
  /** Aborting stops the running job (through ctx.signal) and the run; see `interruptOnSignals`. */
  signal?: AbortSignal;
  /** The TF.js backend in use, e.g. "wasm": jobs see it in `ctx.machine`; manifests record it. */
  backend?: string;
  /**
   * The inference engine and device asked for (`inference:`, `--engine`, `--device`), which head
   * and evaluate jobs see in `ctx.machine`; default auto / auto. Never part of a key.
   */
  inference?: { engine: string; device: string };
  /**
   * Values jobs keep between them (model states, engine sessions); by default a pool of the
   * run's own, freed when `runJobs` returns. A pool given here is the caller's to dispose.
   */
  resources?: ResourcePool;
}
