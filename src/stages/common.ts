/**
 * The form of a stage, and the helpers its declaration shares with the others. A stage is two
 * modules:
 * - its declaration, `stages/<kind>.ts`, made by `defineStage`: its kind, its version (bump it
 *   when the output for the same params and inputs changes: every job of the kind then reruns with
 *   reason VERSION), `declare(args)`, which turns planner arguments into the job's params and
 *   inputs, and `sources(params)` for files outside the cache it reads. The planner builds jobs
 *   from declarations alone, so they import no tensor library, image decoder or plotting library
 *   (tests/module_graph_test.ts holds them to it);
 * - its implementation, `stages/run/<kind>.ts`, exporting `run(ctx, params)`: it sees the params
 *   as they were hashed (as the job record holds them) and its context, nothing else, so the key
 *   covers everything it reads and another process can execute the job from its record. The
 *   registry (mod.ts) imports it when a job of the kind first runs.
 */
import type { Job, JobContext, SourceSpec, StageRunner } from "../cache/job.ts";
import type { JsonValue } from "../cache/canonical_json.ts";
import { mtilDataset } from "../mtil/datasets/registry.ts";

export interface StageDefinition<Args, Params> {
  kind: string;
  version: number;
  /** The version of a job with these params, when some params keep an older version. */
  versionOf?(params: Params): number;
  /** Planner arguments -> the job's params (all `run` reads besides inputs) and its inputs. */
  declare(args: Args): { params: Params; inputs: Record<string, string> };
  /** Files outside the cache `run` reads, from the params alone: their content enters the key. */
  sources?(params: Params): Record<string, SourceSpec>;
  /** Its jobs run the inference engine (`stateEncoder`): see `StageRunner.infers`. */
  infers?: boolean;
}

export interface Stage<Args, Params> extends StageDefinition<Args, Params> {
  /** The job `id` of this stage for planner arguments `args` (plain data, no code). */
  job(id: string, args: Args): Job;
  /** The version of a job with these params. */
  versionOf(params: Params): number;
}

export function defineStage<Args, Params>(
  definition: StageDefinition<Args, Params>,
): Stage<Args, Params> {
  const versionOf = (params: Params) => definition.versionOf?.(params) ?? definition.version;
  return {
    ...definition,
    versionOf,
    job(id, args) {
      const { params, inputs } = definition.declare(args);
      return {
        id,
        kind: definition.kind,
        version: versionOf(params),
        // Params are JSON by construction; jobStatuses checks it (canonicalJson rejects the rest).
        params: params as unknown as JsonValue,
        inputs,
        sources: definition.sources?.(params) ?? {},
      };
    },
  };
}

/** What a stage's implementation module (`stages/run/<kind>.ts`) exports. */
export interface StageImplementation<Params> {
  run: (ctx: JobContext, params: Params) => Promise<void>;
}

/**
 * What the runner needs to execute jobs of `stage`: its implementation is imported by `load`
 * when the first job runs, not before.
 */
export function stageRunner<Args, Params>(
  stage: Stage<Args, Params>,
  load: () => Promise<StageImplementation<Params>>,
): StageRunner {
  return {
    kind: stage.kind,
    versionOf: (params) => stage.versionOf(params as Params),
    run: async (ctx, params) => await (await load()).run(ctx, params as Params),
    infers: stage.infers ?? false,
  };
}

/** Where a dataset's images come from: a user's data root, or the synthetic-data artifact. */
export type DataSource =
  | { kind: "folder"; root: string }
  | { kind: "artifact"; jobId: string };

/** The data part of a job's params: the data root, or null for the `data` input artifact. */
export interface DataParams {
  root: string | null;
}

/** The `data` input of a job reading images (only for the synthetic benchmark). */
export function dataInputs(data: DataSource): Record<string, string> {
  return data.kind === "artifact" ? { data: data.jobId } : {};
}

export function dataParams(data: DataSource): DataParams {
  return { root: data.kind === "folder" ? data.root : null };
}

/**
 * The source a job reading `dataset` from a data root has: the dataset's own folder in its
 * torchvision layout (every reader stays inside it), so editing one Food101 image reruns the
 * Food101 jobs only.
 */
export function dataSources(data: DataParams, dataset: string): Record<string, SourceSpec> {
  if (data.root === null) return {};
  const root = data.root.replace(/\/+$/, "");
  return { data: { path: `${root}/${mtilDataset(dataset).folder}`, depth: "tree" } };
}

/** `delta-01`, `delta-02`, ...: merge artifacts of tasks 1..t, in task order. */
export function deltaInputs(deltas: readonly string[]): Record<string, string> {
  return Object.fromEntries(deltas.map((jobId, i) => [deltaInputName(i + 1), jobId]));
}

function deltaInputName(t: number): string {
  return `delta-${String(t).padStart(2, "0")}`;
}
