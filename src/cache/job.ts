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

/**
 * Properties of the machine a job runs with, chosen for the run (`backend:` / `--backend`,
 * `inference:` / `--engine` / `--device`). They decide how a job computes, never what: they are
 * in no key and reach a stage only through its context, so a stage must give the same artifact
 * (to float tolerance) whatever they are. Kept as plain strings here; the stages that read them
 * check them (src/stages/run/context.ts).
 */
export interface MachineSettings {
  /** The TF.js backend of the process ("wasm", "webgpu", ...), or null when none was set. */
  readonly backend: string | null;
  /**
   * The inference engine and device asked for (`auto` | `onnx` | `tfjs`, `auto` | `cpu` |
   * `webgpu` | `cuda`), as asked: each process resolves `auto` on its own machine. Null: the
   * default (auto, auto).
   */
  readonly inference: { readonly engine: string; readonly device: string } | null;
}

/**
 * What a run keeps in memory between its jobs (a model state, a tokenizer, an engine's
 * sessions), owned by the runner: a stage asks for a value by a key naming everything it is made
 * of, and never frees it. The runner frees each value once no running job holds it and it is no
 * longer worth keeping (see `slot`), and frees everything when the run ends.
 */
export interface JobResources {
  /**
   * The value kept under `key`, opened by `open` the first time. It stays valid until the job
   * ends. `close` frees it. Values of one `slot` replace each other: opening one frees the
   * slot's others once no running job holds them (one model state in memory at a time); values
   * without a slot are kept until the run ends.
   */
  use<T>(
    key: string,
    open: () => Promise<T>,
    options: { close(value: T): void | Promise<void>; slot?: string },
  ): Promise<T>;
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
  /** The machine settings of the run (never in the key). */
  readonly machine: MachineSettings;
  /** Values the run keeps between jobs; the runner frees them. */
  readonly resources: JobResources;
  /**
   * Records how the job ran (speed, memory, engine and machine): the runner stores it beside
   * the artifact (`run.json`), outside its content digest and its key, so a cached job keeps the
   * figures of the run that made it. The last call wins.
   */
  recordStats(stats: object): void;
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
  /**
   * Whether its jobs run the inference engine (`ctx.machine.inference`): a run resolves the
   * engine before starting any job when one of these will run (an explicit choice that cannot
   * be honoured stops it there).
   */
  infers?: boolean;
}

/** Stage runners by kind. */
export type StageRegistry = Readonly<Record<string, StageRunner>>;

/** Why a job must (re)run. */
export type RerunReason = "MISSING" | "PARAMS" | "INPUT" | "VERSION" | "FORCED";
