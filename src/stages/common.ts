/**
 * What every stage shares: how a job names its inputs, small JSON/NPY helpers for artifact
 * folders, and rebuilding a model state (base weights + the merge deltas of tasks 1..t).
 *
 * A stage module exports one `StageDefinition`: its kind, its version (bump it when the output
 * for the same params and inputs changes: every job of the kind then reruns with reason VERSION)
 * and `job(id, args)`, which turns planner arguments into a `Job` whose params hold exactly what
 * the output depends on.
 */
import type { InputArtifact, Job, JobContext } from "../cache/job.ts";
import type { JsonValue } from "../cache/canonical_json.ts";
import { loadClipModel } from "../clip/weights.ts";
import { type ClipModel, disposeModel } from "../clip/model.ts";
import { type ClipTokenizer, loadTokenizer } from "../clip/tokenizer.ts";
import { applyTaskDelta, type TaskDelta } from "../method/delta.ts";
import { loadTaskDelta } from "../method/delta_io.ts";
import { denseSetterFor } from "../method/slots.ts";
import { UserError } from "../errors.ts";

export interface StageDefinition<Args> {
  kind: string;
  version: number;
  job(id: string, args: Args): Job;
}

/** A job of `stage`: its id, the stage's kind and version, and what the stage says. */
export function stageJob(
  stage: { kind: string; version: number },
  id: string,
  job: Pick<Job, "params" | "inputs" | "run">,
): Job {
  return { id, kind: stage.kind, version: stage.version, ...job };
}

/** Where a dataset's images come from: a user's data root, or the synthetic-data artifact. */
export type DataSource =
  | { kind: "folder"; root: string }
  | { kind: "artifact"; jobId: string };

/** The `data` input of a job reading images (only for the synthetic benchmark). */
export function dataInputs(data: DataSource): Record<string, string> {
  return data.kind === "artifact" ? { data: data.jobId } : {};
}

/** Params describing the data source: the root path, or nothing (the input digest covers it). */
export function dataParams(data: DataSource): JsonValue {
  return data.kind === "folder" ? { root: data.root } : { root: "artifact:data" };
}

/** The data root a running job reads images from. */
export function dataRoot(ctx: JobContext): string {
  const data = ctx.inputs.data;
  if (data !== undefined) return `${data.dir}/mtil`;
  const root = (ctx.params as { data?: { root?: string } }).data?.root;
  if (typeof root !== "string") throw new Error(`${ctx.id}: no data root`);
  return root;
}

/** `delta-01`, `delta-02`, ...: merge artifacts of tasks 1..t, in task order. */
export function deltaInputs(deltas: readonly string[]): Record<string, string> {
  return Object.fromEntries(deltas.map((jobId, i) => [deltaInputName(i + 1), jobId]));
}

function deltaInputName(t: number): string {
  return `delta-${String(t).padStart(2, "0")}`;
}

export function input(ctx: JobContext, name: string): InputArtifact {
  const artifact = ctx.inputs[name];
  if (artifact === undefined) throw new Error(`${ctx.id}: missing input "${name}"`);
  return artifact;
}

export async function readJson<T>(dir: string, file: string): Promise<T> {
  const path = `${dir}/${file}`;
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Artifact files are written into the job's temp folder, which the runner renames as a whole. */
export async function writeJson(dir: string, file: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(`${dir}/${file}`, JSON.stringify(value, null, 2) + "\n");
}

/** Files of the `model` artifact (see stages/model.ts). */
export interface ModelDescriptor {
  /** Folder of the weights: relative = inside the artifact (synthetic), absolute = the user's. */
  weights: string;
  /** Folder of the tokenizer files. */
  tokenizer: string;
  imageSize: number;
  contextLength: number;
}

export async function modelDescriptor(ctx: JobContext): Promise<ModelDescriptor> {
  const artifact = input(ctx, "model");
  const stored = await readJson<ModelDescriptor>(artifact.dir, "model.json");
  // Relative paths point into the artifact (a generated model), absolute ones at user folders.
  const at = (path: string) => path.startsWith("/") ? path : `${artifact.dir}/${path}`;
  return { ...stored, weights: at(stored.weights), tokenizer: at(stored.tokenizer) };
}

/** The task deltas a job was given (`delta-01`..), loaded in task order. */
export async function loadDeltas(ctx: JobContext): Promise<TaskDelta[]> {
  const names = Object.keys(ctx.inputs).filter((name) => name.startsWith("delta-")).sort();
  const deltas: TaskDelta[] = [];
  for (const name of names) {
    deltas.push(await loadTaskDelta(`${input(ctx, name).dir}/delta.safetensors`));
  }
  return deltas;
}

/**
 * One model state kept in memory between consecutive jobs that need it (the head and evaluate
 * jobs of a state run one after the other): loading ViT-B/16 takes seconds, and a state is fully
 * named by the digests of the base and its deltas.
 */
let held: { key: string; model: ClipModel } | null = null;

function stateKey(ctx: JobContext): string {
  const names = Object.keys(ctx.inputs).filter((n) => n === "model" || n.startsWith("delta-"));
  return names.sort().map((name) => `${name}=${input(ctx, name).digest}`).join(";");
}

/**
 * The model after the job's deltas are merged into the base weights. Owned by this module: do not
 * dispose it; it stays valid until the next `modelState` call with another state.
 */
export async function modelState(ctx: JobContext): Promise<ClipModel> {
  const key = stateKey(ctx);
  if (held?.key === key) return held.model;
  releaseModelState();
  const descriptor = await modelDescriptor(ctx);
  const { model } = await loadClipModel(descriptor.weights);
  try {
    for (const delta of await loadDeltas(ctx)) {
      applyTaskDelta(model, delta, { setDense: denseSetterFor(model) });
    }
  } catch (error) {
    disposeModel(model);
    throw error;
  }
  held = { key, model };
  return model;
}

/** Frees the model state kept between jobs (tests call it to check tensor counts). */
export function releaseModelState(): void {
  if (held !== null) disposeModel(held.model);
  held = null;
}

const tokenizers = new Map<string, Promise<ClipTokenizer>>();

export function tokenizerFor(descriptor: ModelDescriptor): Promise<ClipTokenizer> {
  let found = tokenizers.get(descriptor.tokenizer);
  if (found === undefined) {
    found = loadTokenizer(descriptor.tokenizer);
    tokenizers.set(descriptor.tokenizer, found);
  }
  return found;
}
