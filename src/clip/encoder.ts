/**
 * Inference engines for a CLIP model state: the same encodings from TensorFlow.js (the training
 * engine, on whichever tfjs backend is active) or from ONNX Runtime (the state exported as ONNX
 * graphs, ./onnx/graph.ts: several times faster on a CPU, and on CUDA / WebGPU where present).
 *
 * `openEncoder(model, { engine, device })` returns a `ClipEncoder` and says what it chose and why.
 * `engine: auto` takes ONNX Runtime on the best device that opens (CUDA, then WebGPU, then CPU;
 * `device` narrows this to one), and TF.js with a one-line reason when none does. An explicit
 * `engine: onnx`, or an explicit `device`, that cannot be honoured is a UserError (exit 2).
 * `device` is ONNX Runtime's: TF.js runs on the process's tfjs backend (`--backend`), so with
 * `engine: tfjs` the device must be `auto`.
 *
 * Encoders take and return plain arrays: pixels float32 `[n, 3, size, size]` (normalised NCHW),
 * token ids int32 `[n, context]`; features float32 `[n, embed]`, projected, not normalised.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import type { ClipArch, EncoderName } from "./arch.ts";
import { currentBackend } from "./backend.ts";
import type { LinearApply } from "./linear.ts";
import { type ClipModel, encodeImage, encodeText, textTokens } from "./model.ts";
import {
  IMAGE_INPUT,
  IMAGE_OUTPUT,
  imageEncoderOnnx,
  TEXT_INPUT,
  TEXT_OUTPUT,
  textEncoderOnnx,
} from "./onnx/graph.ts";
import {
  createSession,
  loadOrt,
  ORT_DEVICES,
  type OrtDevice,
  type OrtModule,
  type OrtSession,
  type OrtTensor,
  probeDevice,
  type Unavailable,
} from "./onnx/runtime.ts";
import { DEFAULT_INFERENCE, type InferenceSetting } from "./settings.ts";

export interface ClipEncoder {
  readonly arch: ClipArch;
  /** The engine in use. */
  readonly engine: "onnx" | "tfjs";
  /** ONNX Runtime's device (cpu, webgpu, cuda), or TF.js's backend (wasm, webgpu, ...). */
  readonly device: string;
  /** One line: why this engine and device (auto's pick, or the reason for a fallback). */
  readonly reason: string;
  /** Normalised NCHW pixels float32 `[n, 3, size, size]` -> features `[n, embed]`. */
  encodeImages(pixels: Float32Array): Promise<Float32Array>;
  /** Token ids int32 `[n, context]` (each row's end token its highest id) -> `[n, embed]`. */
  encodeTexts(tokens: Int32Array): Promise<Float32Array>;
  /** Frees the engine's copy of the weights (ONNX sessions); the model is the caller's. */
  dispose(): Promise<void>;
}

export interface OpenEncoderOptions extends Partial<InferenceSetting> {
  /**
   * ONNX: towers whose graph and session are built now (while the model is at hand); the others
   * are built on first use, from the model as it is then. Default none.
   */
  prepare?: readonly EncoderName[];
  /** TF.js only: how adapted linears are applied (an adapter under training). */
  linear?: LinearApply;
}

/** What this process can run ONNX Runtime on: null = usable, else why not. */
export interface OrtAvailability {
  /** Null when the module and its native library load. */
  runtime: Unavailable | null;
  devices: Record<OrtDevice, Unavailable | null>;
}

/** The engine and device a setting resolves to, before anything is built. */
export type EngineChoice =
  | { engine: "onnx"; device: OrtDevice; reason: string }
  | { engine: "tfjs"; reason: string };

function unusable(setting: InferenceSetting, why: string): UserError {
  return new UserError(
    `Inference engine ${setting.engine} on device ${setting.device} cannot run here: ${why}`,
    { exitCode: 2 },
  );
}

/** `reason`, or `reason; hint` for an error message that should say how to get it. */
function explain(missing: Unavailable, options: { hint: boolean }): string {
  return options.hint && missing.hint !== undefined
    ? `${missing.reason}; ${missing.hint}`
    : missing.reason;
}

/**
 * Resolves a setting against what is available (pure: the probing is the caller's). An explicit
 * engine or device that cannot be honoured is a UserError with exit code 2 that says why and how
 * to get it; `auto` falls back to TF.js with a one-line reason.
 */
export function chooseEngine(
  setting: InferenceSetting,
  available: OrtAvailability,
  options: { linear?: boolean } = {},
): EngineChoice {
  const { engine, device } = setting;
  if (engine === "tfjs") {
    if (device !== "auto") {
      throw unusable(
        setting,
        "the device setting is ONNX Runtime's; TF.js runs on the tfjs backend (backend: / " +
          "--backend), so give device auto with engine tfjs",
      );
    }
    return { engine: "tfjs", reason: "engine tfjs was asked for" };
  }
  const hook = "an adapter hook (unmerged experts) runs on TF.js only";
  if (options.linear) {
    if (engine === "onnx") throw unusable(setting, hook);
    return { engine: "tfjs", reason: hook };
  }
  const explicit = engine === "onnx" || device !== "auto";
  const fail = (missing: Unavailable[], prefix: string[] = []): EngineChoice => {
    const why = (hint: boolean) =>
      missing.map((entry, i) => `${prefix[i] ?? ""}${explain(entry, { hint })}`).join("; ");
    if (explicit) throw unusable(setting, why(true));
    return { engine: "tfjs", reason: `ONNX Runtime unavailable: ${why(false)}` };
  };
  if (available.runtime !== null) return fail([available.runtime]);
  const candidates = device === "auto" ? ORT_DEVICES : [device];
  const skipped: Unavailable[] = [];
  for (const candidate of candidates) {
    const missing = available.devices[candidate];
    if (missing === null) {
      const how = device === "auto"
        ? "the best device that opens"
        : `device ${device} was asked for`;
      const passed = candidates.slice(0, skipped.length)
        .map((name, i) => `${name}: ${skipped[i]!.reason}`);
      return {
        engine: "onnx",
        device: candidate,
        reason: passed.length === 0 ? how : `${how}; ${passed.join("; ")}`,
      };
    }
    skipped.push(missing);
  }
  return fail(skipped, candidates.map((name) => `${name}: `));
}

const NOT_TRIED: Unavailable = { reason: "not tried" };

function notTried(): OrtAvailability {
  return {
    runtime: NOT_TRIED,
    devices: { cuda: NOT_TRIED, webgpu: NOT_TRIED, cpu: NOT_TRIED },
  };
}

/**
 * Probes ONNX Runtime (loading its native library) and the devices `setting` could use, best
 * first, stopping at the first that opens.
 */
async function probeAvailability(
  setting: InferenceSetting,
): Promise<{ available: OrtAvailability; ort: OrtModule | null }> {
  const devices = notTried().devices;
  const ort = await loadOrt();
  if (ort instanceof Error) {
    return { available: { runtime: { reason: ort.message }, devices }, ort: null };
  }
  const candidates = setting.device === "auto" ? ORT_DEVICES : [setting.device];
  for (const device of candidates) {
    devices[device] = await probeDevice(ort, device);
    if (devices[device] === null) break; // the best one that opens: no need to try the rest
  }
  return { available: { runtime: null, devices }, ort };
}

function checkedCount(length: number, rowLength: number, what: string): number {
  if (length % rowLength !== 0) {
    throw new UserError(
      `Cannot encode ${what}: ${length} values are not whole rows of ${rowLength}`,
    );
  }
  return length / rowLength;
}

/** TF.js: the model's own forward on the active backend, one batch per call. */
function tfjsEncoder(model: ClipModel, reason: string, linear?: LinearApply): ClipEncoder {
  const { imageSize } = model.arch.vision;
  const { contextLength } = model.arch.text;
  const run = async (compute: () => tf.Tensor2D): Promise<Float32Array> => {
    const features = tf.tidy(compute);
    try {
      return await features.data<"float32">(); // async: WebGPU has no synchronous reads
    } finally {
      features.dispose();
    }
  };
  return {
    arch: model.arch,
    engine: "tfjs",
    device: currentBackend() ?? tf.getBackend(),
    reason,
    async encodeImages(pixels) {
      const count = checkedCount(pixels.length, 3 * imageSize * imageSize, "pixels");
      return await run(() =>
        encodeImage(model, tf.tensor4d(pixels, [count, 3, imageSize, imageSize]), { linear })
      );
    },
    async encodeTexts(tokens) {
      checkedCount(tokens.length, contextLength, "tokens");
      // Cut after the batch's last end token on the host: the features of the full rows.
      return await run(() => encodeText(model, textTokens(tokens, contextLength), { linear }));
    },
    dispose: () => Promise.resolve(),
  };
}

/** ONNX Runtime: one session per tower, built from the model's weights once. */
async function onnxEncoder(
  model: ClipModel,
  options: { ort: OrtModule; device: OrtDevice; reason: string; prepare: readonly EncoderName[] },
): Promise<ClipEncoder> {
  const { ort, device } = options;
  const { imageSize } = model.arch.vision;
  const { contextLength, vocabSize } = model.arch.text;
  const embed = model.arch.embedDim;
  const sessions = new Map<EncoderName, Promise<OrtSession>>();
  const session = (tower: EncoderName) => {
    let opened = sessions.get(tower);
    if (opened === undefined) {
      opened = (async () => {
        const bytes = tower === "vision"
          ? await imageEncoderOnnx(model)
          : await textEncoderOnnx(model);
        return await createSession(ort, bytes, device);
      })();
      sessions.set(tower, opened);
    }
    return opened;
  };
  const run = async (
    tower: EncoderName,
    input: OrtTensor,
    count: number,
  ): Promise<Float32Array> => {
    if (count === 0) return new Float32Array(0);
    const [name, output] = tower === "vision"
      ? [IMAGE_INPUT, IMAGE_OUTPUT]
      : [TEXT_INPUT, TEXT_OUTPUT];
    const result = await (await session(tower)).run({ [name]: input });
    const data = result[output]!.data as Float32Array; // [count, embed]
    if (data.length !== count * embed) {
      throw new Error(`ONNX ${tower} encoder: ${data.length} outputs for ${count} inputs`);
    }
    return data;
  };
  await Promise.all(options.prepare.map(session));
  return {
    arch: model.arch,
    engine: "onnx",
    device,
    reason: options.reason,
    async encodeImages(pixels) {
      const count = checkedCount(pixels.length, 3 * imageSize * imageSize, "pixels");
      const input = new ort.Tensor("float32", pixels, [count, 3, imageSize, imageSize]);
      return await run("vision", input, count);
    },
    async encodeTexts(tokens) {
      const count = checkedCount(tokens.length, contextLength, "tokens");
      // The graph gathers embedding rows by id: an id out of range would read past the table.
      const bad = tokens.findIndex((id) => id < 0 || id >= vocabSize);
      if (bad !== -1) {
        throw new UserError(
          `Cannot encode tokens: id ${tokens[bad]} at row ${Math.floor(bad / contextLength)} ` +
            `is outside the vocabulary [0, ${vocabSize})`,
        );
      }
      return await run("text", new ort.Tensor("int32", tokens, [count, contextLength]), count);
    },
    async dispose() {
      const opened = [...sessions.values()];
      sessions.clear();
      for (const pending of opened) await (await pending).release();
    },
  };
}

/**
 * An encoder for `model` on the engine and device `options` ask for (default auto / auto).
 * The model must stay alive and unchanged while a TF.js encoder is in use, and until an ONNX
 * encoder has built the towers it uses (at open for `prepare`, else at first use).
 */
export async function openEncoder(
  model: ClipModel,
  options: OpenEncoderOptions = {},
): Promise<ClipEncoder> {
  const setting: InferenceSetting = {
    engine: options.engine ?? DEFAULT_INFERENCE.engine,
    device: options.device ?? DEFAULT_INFERENCE.device,
  };
  const hasHook = options.linear !== undefined;
  // TF.js needs no probe, and an adapter hook rules ONNX out.
  const { available, ort } = setting.engine === "tfjs" || hasHook
    ? { available: notTried(), ort: null }
    : await probeAvailability(setting);
  const choice = chooseEngine(setting, available, { linear: hasHook });
  if (choice.engine === "tfjs") return tfjsEncoder(model, choice.reason, options.linear);
  return await onnxEncoder(model, {
    ort: ort!,
    device: choice.device,
    reason: choice.reason,
    prepare: options.prepare ?? [],
  });
}

/**
 * What `openEncoder` chooses for `setting` on this machine, without a model: ONNX Runtime is
 * loaded and probed unless the setting is TF.js (probes are kept per process, so encoders opened
 * later with the same setting choose the same). An explicit choice that cannot be honoured is a
 * UserError with exit code 2.
 */
export async function resolveEngine(setting: InferenceSetting): Promise<EngineChoice> {
  const { available } = setting.engine === "tfjs"
    ? { available: notTried() }
    : await probeAvailability(setting);
  return chooseEngine(setting, available);
}

function describe(engine: "onnx" | "tfjs", device: string, reason: string): string {
  return `${engine === "onnx" ? "ONNX Runtime" : "TF.js"} on ${device} (${reason})`;
}

/** `engine on device (reason)`: how commands report the choice. */
export function describeEncoder(encoder: ClipEncoder): string {
  return describe(encoder.engine, encoder.device, encoder.reason);
}

/** `describeEncoder`'s line for a choice made before any encoder (TF.js: the active backend). */
export function describeEngineChoice(choice: EngineChoice): string {
  const device = choice.engine === "onnx" ? choice.device : currentBackend() ?? tf.getBackend();
  return describe(choice.engine, device, choice.reason);
}
