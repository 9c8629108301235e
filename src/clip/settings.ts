/**
 * The names of what a run chooses about its machine (the TF.js backend, the inference engine and
 * its device), apart from the code that acts on them (backend.ts, encoder.ts): the spec and the
 * CLIs check a choice without loading TensorFlow.js or ONNX Runtime.
 */
import type { OrtDevice } from "./onnx/runtime.ts";

export const BACKEND_NAMES = [
  "auto",
  "cpu",
  "wasm",
  "webgpu",
  "tensorflow",
  "tensorflow-gpu",
] as const;
export type BackendName = typeof BACKEND_NAMES[number];

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

export const ENGINE_NAMES = ["auto", "onnx", "tfjs"] as const;
export type EngineName = typeof ENGINE_NAMES[number];
export const DEVICE_NAMES = [
  "auto",
  "cpu",
  "webgpu",
  "cuda",
] as const satisfies readonly ("auto" | OrtDevice)[];
export type DeviceName = typeof DEVICE_NAMES[number];

/** The `inference:` setting of a pipeline, `--engine` / `--device` on the command line. */
export interface InferenceSetting {
  engine: EngineName;
  device: DeviceName;
}

export const DEFAULT_INFERENCE: InferenceSetting = { engine: "auto", device: "auto" };
