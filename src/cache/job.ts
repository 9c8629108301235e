/**
 * A job: one cached unit of work. The planner (src/plan) builds jobs from a pipeline, the stages
 * (src/stages) implement `run`, the runner (src/runner) executes them. The types live here, in the
 * lowest layer that needs them, so every one of those layers can name them.
 */
import type { JsonValue } from "./canonical_json.ts";
import type { Manifest } from "./manifest.ts";

export interface Job {
  /** Stable name, unique in a pipeline, e.g. "train/task-03-DTD". Identifies the job across runs. */
  id: string;
  /** Stage kind, e.g. "train". Together with `id` it is the job's identity in the cache index. */
  kind: string;
  /** Stage implementation version (integer); bumping it reruns every job of this kind. */
  version: number;
  /** Everything besides the inputs that the output depends on. Must be canonical-JSON-able. */
  params: JsonValue;
  /** Upstream jobs whose artifacts this job reads, by input name: { model: "merge/task-02" }. */
  inputs: Record<string, string>;
  /** Writes the artifact into `ctx.outDir`. Must be a pure function of (params, inputs). */
  run(ctx: JobContext): Promise<void>;
}

/** An upstream artifact as a job sees it. */
export interface InputArtifact {
  /** Folder holding the files the upstream job wrote. Read only: never write here. */
  dir: string;
  /** Content digest of those files. */
  digest: string;
  manifest: Manifest;
}

export interface JobContext {
  readonly id: string;
  readonly params: JsonValue;
  readonly inputs: Readonly<Record<string, InputArtifact>>;
  /** Empty temporary folder; whatever is in it when `run` resolves becomes the artifact. */
  readonly outDir: string;
  /** Report progress: `done` of `total` units (iterations, images), with an optional note. */
  progress(done: number, total: number, note?: string): void;
  /** One line for the job's log (kept beside the artifact) and the display. */
  log(line: string): void;
  /** Aborted on Ctrl-C: stop soon, by throwing; the partial output is discarded. */
  readonly signal: AbortSignal;
}

/** Why a job must (re)run. */
export type RerunReason = "MISSING" | "PARAMS" | "INPUT" | "VERSION" | "FORCED";
