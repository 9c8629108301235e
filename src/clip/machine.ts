/**
 * The machine a job ran on, as an efficiency table names it beside a measured figure: the engine
 * and its backend, the device that ran the tensors (the WebGPU adapter, else the CPU), and the
 * host's CPU model, cores, memory and OS.
 */
import * as tf from "@tensorflow/tfjs";
import os from "node:os";
import { currentBackend, webgpuAdapter } from "./backend.ts";
import { storedFigures } from "./measure.ts";

export interface MeasuredOn {
  /** `tfjs` (training, TF.js inference), or another inference engine's name. */
  engine: string;
  /** The engine's backend or device: tfjs's `wasm`, `webgpu`, `cpu`, `tensorflow`, ... */
  backend: string;
  /** The hardware that ran the tensors: the WebGPU adapter's name, else the CPU model. */
  device: string;
  /** The host's CPU model. */
  cpu: string;
  /** Logical CPU cores of the host. */
  cores: number;
  /** The host's memory in bytes. */
  memoryBytes: number;
  /** `linux x86_64`, ... */
  os: string;
}

let adapterName: Promise<string | null> | null = null;

/** The WebGPU adapter's description, asked once per process. */
function webgpuAdapterName(): Promise<string | null> {
  adapterName ??= webgpuAdapter().then((adapter) => adapter?.description || null);
  return adapterName;
}

/**
 * The NVIDIA GPUs' names as the driver lists them (`/proc/driver/nvidia/gpus/<bus>/information`,
 * its `Model:` line), joined; null without the driver (or off Linux).
 */
function nvidiaGpuNames(): string | null {
  const root = "/proc/driver/nvidia/gpus";
  try {
    const names = [...Deno.readDirSync(root)].map((entry) => {
      const info = Deno.readTextFileSync(`${root}/${entry.name}/information`);
      return /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "NVIDIA GPU";
    });
    return names.length === 0 ? null : [...new Set(names)].join(", ");
  } catch {
    return null;
  }
}

function cpuModel(): string {
  const model = os.cpus()[0]?.model?.trim();
  return model === undefined || model === "" ? "unknown CPU" : model;
}

/**
 * The machine the active tfjs backend runs on (`engine` and `backend` name another engine's,
 * e.g. ONNX Runtime on cuda). Reads host facts only: no tensor, no device read.
 */
export async function measuredOn(
  options: { engine?: string; backend?: string } = {},
): Promise<MeasuredOn> {
  const engine = options.engine ?? "tfjs";
  const backend = options.backend ?? currentBackend() ?? tf.getBackend();
  const cpu = cpuModel();
  let device = cpu;
  if (backend === "webgpu") device = (await webgpuAdapterName()) ?? "WebGPU adapter";
  else if (backend === "tensorflow-gpu" || backend === "cuda") {
    device = nvidiaGpuNames() ?? "CUDA GPU";
  }
  return {
    engine,
    backend,
    device,
    cpu,
    cores: os.cpus().length || navigator.hardwareConcurrency,
    memoryBytes: os.totalmem(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

/**
 * One line naming the machine: `tfjs wasm on AMD EPYC (2 cores, 24 GiB)`, or for a GPU
 * `tfjs webgpu on NVIDIA RTX A6000 (host: AMD EPYC, 16 cores, 128 GiB)`.
 */
export function machineLabel(machine: MeasuredOn): string {
  const memory = `${Math.round(machine.memoryBytes / 2 ** 30)} GiB`;
  const host = `${machine.cores} cores, ${memory}`;
  const what = `${machine.engine} ${machine.backend}`;
  return machine.device === machine.cpu
    ? `${what} on ${machine.cpu} (${host})`
    : `${what} on ${machine.device} (host: ${machine.cpu}, ${host})`;
}

/** A stored `MeasuredOn` read back from JSON, or null when it is not one. */
export function parseMeasuredOn(value: unknown): MeasuredOn | null {
  const record = storedFigures(value, { numbers: ["cores", "memoryBytes"] });
  if (record === null) return null;
  const texts = ["engine", "backend", "device", "cpu", "os"];
  return texts.every((key) => typeof record[key] === "string")
    ? record as unknown as MeasuredOn
    : null;
}
