/**
 * A job: one cached unit of work, as plain data. The planner (src/plan) builds jobs from a
 * pipeline through the stage declarations (src/stages), the runner (src/runner) executes them by
 * looking their kind up in a stage registry. A job holds no code: its kind, version, params, input
 * artifacts and source files are everything its execution depends on, so a job recorded in the
 * cache (see record.ts) can be executed by another process, on another machine. The types live
 * here, in the lowest layer that needs them, so every one of those layers can name them.
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
  /** Everything besides inputs and sources that `run` reads. Must be canonical-JSON-able. */
  params: JsonValue;
  /** Upstream jobs whose artifacts this job reads, by input name: { model: "merge/task-02" }. */
  inputs: Record<string, string>;
  /**
   * Files outside the cache that the job reads (CLIP weights, a dataset folder), by name. Their
   * content digest enters the key, so editing them reruns the job.
   */
  sources: Record<string, SourceSpec>;
}

/** A file or folder outside the cache that a job reads. */
export interface SourceSpec {
  /** Absolute path of a file or a folder. */
  path: string;
  /**
   * For a folder: "tree" covers every file below it (a dataset), "top" only the files directly
   * in it (a weights folder, where a `.git/` or a sibling checkpoint folder is not read).
   */
  depth: "tree" | "top";
}

/** An upstream artifact as a job sees it. */
export interface InputArtifact {
  /** Folder holding the files the upstream job wrote. Read only: never write here. */
  dir: string;
  /** Content digest of those files. */
  digest: string;
  manifest: Manifest;
}

/** A source as a running job sees it: where it is and the content digest its key was made with. */
export interface SourceInput {
  path: string;
  digest: string;
}

export interface JobContext {
  readonly id: string;
  readonly inputs: Readonly<Record<string, InputArtifact>>;
  readonly sources: Readonly<Record<string, SourceInput>>;
  /** Empty temporary folder; whatever is in it when `run` resolves becomes the artifact. */
  readonly outDir: string;
  /** Report progress: `done` of `total` units (iterations, images), with an optional note. */
  progress(done: number, total: number, note?: string): void;
  /** One line for the job's log (kept beside the artifact) and the display. */
  log(line: string): void;
  /** Aborted on Ctrl-C / SIGTERM: stop soon, by throwing; the partial output is discarded. */
  readonly signal: AbortSignal;
}

/**
 * What the runner needs of a stage to execute a job of its kind. `run` receives the job's params
 * as they were hashed (a JSON value) and its context: nothing else, so the key covers everything
 * the output depends on.
 */
export interface StageRunner {
  kind: string;
  /** The version a job with these params has: a job planned with another one is refused. */
  versionOf(params: JsonValue): number;
  run(ctx: JobContext, params: JsonValue): Promise<void>;
}

/** Stage runners by kind. */
export type StageRegistry = Readonly<Record<string, StageRunner>>;

/** Why a job must (re)run. */
export type RerunReason = "MISSING" | "PARAMS" | "INPUT" | "VERSION" | "FORCED";
