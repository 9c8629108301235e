/**
 * `deno task doctor [--json]`: the engines and devices this machine has, and what `auto` picks.
 *
 * - TensorFlow.js (training; inference with `engine: tfjs`): each backend tried, with the
 *   WebGPU adapter Deno finds and the install command of tfjs-node(-gpu) where they are missing.
 * - ONNX Runtime (inference): whether its native library loads, the providers it was built with,
 *   whether a session opens on cpu / webgpu / cuda, and which CUDA provider and CUDA / cuDNN
 *   libraries are found, each missing one with how to get it.
 */
import { parseArgs } from "node:util";
import { type BackendStatus, backendStatuses } from "../clip/backend.ts";
import { chooseEngine, type EngineChoice } from "../clip/encoder.ts";
import { DEFAULT_INFERENCE } from "../clip/settings.ts";
import { ORT_DEVICES, type OrtReport, ortReport } from "../clip/onnx/runtime.ts";
import * as tf from "@tensorflow/tfjs";

const USAGE = "usage: deno task doctor [--json]";

export interface DoctorReport {
  tfjs: { version: string; backends: BackendStatus[]; auto: string };
  onnxRuntime: OrtReport;
  /** What `inference: { engine: auto, device: auto }` resolves to here. */
  inference: EngineChoice;
}

export async function doctorReport(): Promise<DoctorReport> {
  const { backends, auto } = await backendStatuses();
  const onnxRuntime = await ortReport();
  const inference = chooseEngine(DEFAULT_INFERENCE, {
    runtime: onnxRuntime.runtime,
    devices: onnxRuntime.devices,
  });
  return { tfjs: { version: tf.version.tfjs, backends, auto }, onnxRuntime, inference };
}

function line(name: string, ok: boolean, detail: string): string {
  return `  ${name.padEnd(16)} ${ok ? "yes" : "no "}  ${detail}`;
}

export function formatDoctor(report: DoctorReport): string {
  const { tfjs, onnxRuntime: ort, inference } = report;
  const lines = [`TensorFlow.js ${tfjs.version} (training; inference with engine tfjs)`];
  for (const backend of tfjs.backends) {
    lines.push(line(backend.name, backend.available, backend.detail));
  }
  lines.push(`  auto picks ${tfjs.auto}`, "");
  lines.push(`ONNX Runtime ${ort.version} (inference: evaluations, zero-shot heads, encode)`);
  lines.push(line("native library", ort.runtime === null, ort.runtime?.reason ?? "loads"));
  if (ort.providers.length > 0) {
    const names = (bundled: boolean) =>
      ort.providers.filter((p) => p.bundled === bundled).map((p) => p.name).join(", ");
    lines.push(
      `  ${"providers".padEnd(16)}      ${names(true)} bundled; ${names(false)} need libraries ` +
        `installed beside it`,
    );
  }
  for (const device of ORT_DEVICES) {
    const missing = ort.devices[device];
    const detail = missing === null
      ? "a session opens"
      : missing.hint === undefined
      ? missing.reason
      : `${missing.reason}\n${" ".repeat(24)}${missing.hint}`;
    lines.push(line(device, missing === null, detail));
  }
  const found = ort.cuda.filter((entry) => entry.found).map((entry) => entry.file);
  const absent = ort.cuda.filter((entry) => !entry.found).map((entry) => entry.file);
  if (found.length > 0) lines.push(`  CUDA libraries found: ${found.join(", ")}`);
  if (absent.length > 0) lines.push(`  CUDA libraries missing: ${absent.join(", ")}`);
  lines.push("");
  lines.push(
    inference.engine === "onnx"
      ? `inference auto picks ONNX Runtime on ${inference.device}`
      : `inference auto picks TF.js (${inference.reason})`,
  );
  return lines.join("\n");
}

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const report = await doctorReport();
  console.log(values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  return 0;
}
