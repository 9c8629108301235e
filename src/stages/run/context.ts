/**
 * What a stage's run reads through its job's context, shared by the implementations: input
 * artifacts and their JSON files, where the images are, and the run's values a job asks for
 * through `ctx.resources`: a model state (base weights + the merge deltas of tasks 1..t), its
 * inference engine on the run's engine and device (`ctx.machine`), the tokenizer. The runner owns
 * and frees them; no stage keeps state of its own between jobs.
 */
import type { InputArtifact, JobContext } from "../../cache/job.ts";
import { type ClipEncoder, openEncoder } from "../../clip/encoder.ts";
import {
  DEFAULT_INFERENCE,
  DEVICE_NAMES,
  ENGINE_NAMES,
  type InferenceSetting,
} from "../../clip/settings.ts";
import { loadClipModel } from "../../clip/weights.ts";
import { type ClipModel, disposeModel } from "../../clip/model.ts";
import type { ClipTokenizer } from "../../clip/tokenizer.ts";
import { loadTokenizer } from "../../clip/tokenizer_files.ts";
import { applyTaskDelta, type TaskDelta } from "../../method/delta.ts";
import { loadTaskDelta } from "../../method/delta_io.ts";
import { denseSetterFor } from "../../method/slots.ts";
import { UserError } from "../../errors.ts";
import type { DataParams } from "../common.ts";

/** The data root a running job reads images from. */
export function dataRoot(ctx: JobContext, data: DataParams): string {
  return data.root ?? `${input(ctx, "data").dir}/mtil`;
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
  /**
   * Content digests of a user's weights and tokenizer folders as the model job hashed them (null
   * for folders inside the artifact): they make the model artifact's digest, and so every
   * downstream key, follow the weights' content.
   */
  weightsDigest: string | null;
  tokenizerDigest: string | null;
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

function stateKey(ctx: JobContext): string {
  const names = Object.keys(ctx.inputs).filter((n) => n === "model" || n.startsWith("delta-"));
  return names.sort().map((name) => `${name}=${input(ctx, name).digest}`).join(";");
}

/** A model state as the run keeps it: the merged model and its inference engines. */
interface HeldState {
  model: ClipModel;
  /** By `engine/device` asked for: built on first use, freed with the state. */
  encoders: Map<string, Promise<ClipEncoder>>;
}

async function loadState(ctx: JobContext): Promise<HeldState> {
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
  return { model, encoders: new Map() };
}

async function closeState(state: HeldState): Promise<void> {
  for (const opening of state.encoders.values()) {
    await opening.then((encoder) => encoder.dispose(), () => {});
  }
  disposeModel(state.model);
}

/**
 * The job's model state, kept by the run for every job that uses it (the head and evaluate jobs
 * of a state and the next task's training run one after the other; loading ViT-B/16 takes
 * seconds). A state is fully named by the digests of the base and its deltas. One state is kept
 * at a time (a slot): the next one replaces it.
 */
function heldState(ctx: JobContext): Promise<HeldState> {
  return ctx.resources.use(`model-state ${stateKey(ctx)}`, () => loadState(ctx), {
    close: closeState,
    slot: "model-state",
  });
}

/**
 * The model after the job's deltas are merged into the base weights. The run owns it: do not
 * dispose or modify it; it stays valid until the job ends.
 */
export async function modelState(ctx: JobContext): Promise<ClipModel> {
  return (await heldState(ctx)).model;
}

/** The inference setting of the run (`ctx.machine.inference`), checked. */
export function inferenceSetting(ctx: JobContext): InferenceSetting {
  const asked = ctx.machine.inference ?? DEFAULT_INFERENCE;
  const { engine, device } = asked;
  if (!isOneOf(ENGINE_NAMES, engine) || !isOneOf(DEVICE_NAMES, device)) {
    throw new UserError(
      `Inference engine ${engine} on device ${device}: expected an engine of ` +
        `${ENGINE_NAMES.join(", ")} and a device of ${DEVICE_NAMES.join(", ")}`,
      { exitCode: 2 },
    );
  }
  return { engine, device };
}

function isOneOf<T extends string>(choices: readonly T[], value: string): value is T {
  return (choices as readonly string[]).includes(value);
}

/**
 * The inference engine of the job's model state on the run's engine and device (ONNX Runtime:
 * the state's graphs and sessions, built once per state and shared by its head and evaluate
 * jobs; never stored in the cache). The run owns it: do not dispose it.
 */
export async function stateEncoder(ctx: JobContext): Promise<ClipEncoder> {
  const state = await heldState(ctx);
  const setting = inferenceSetting(ctx);
  const name = `${setting.engine}/${setting.device}`;
  let opening = state.encoders.get(name);
  if (opening === undefined) {
    // Both towers now: a state's head jobs need the text one, its evaluate jobs the image one,
    // and building a graph inside the first batch would count as its warm-up.
    opening = openEncoder(state.model, { ...setting, prepare: ["vision", "text"] });
    state.encoders.set(name, opening);
    // One that failed to open is not kept: the next job tries again (and fails the same way).
    opening.catch(() => state.encoders.delete(name));
  }
  return await opening;
}

/** The descriptor's tokenizer, loaded once per run and folder content. */
export function tokenizerFor(ctx: JobContext, descriptor: ModelDescriptor): Promise<ClipTokenizer> {
  const key = `tokenizer ${descriptor.tokenizer}@${descriptor.tokenizerDigest ?? "artifact"}`;
  return ctx.resources.use(key, () => loadTokenizer(descriptor.tokenizer), { close() {} });
}
