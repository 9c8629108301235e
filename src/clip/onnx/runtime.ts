/**
 * ONNX Runtime (npm `onnxruntime-node`, an N-API addon Deno loads) and its execution providers.
 * The module and its native library load on first use only (a dynamic import), so commands that
 * never infer never load them.
 *
 * The linux-x64 package bundles the CPU and WebGPU providers. The CUDA (and TensorRT) provider
 * libraries are not in the npm package: its install script fetches them from NuGet, and Deno runs
 * npm install scripts only when allowed (`deno install --allow-scripts=...`). The CUDA provider
 * also needs CUDA 12 and cuDNN 9 on the library path. Dawn (ORT's WebGPU) uses Vulkan on Linux
 * and refuses software adapters (lavapipe), so it opens on real GPUs only.
 */
import type * as Ort from "onnxruntime-node";
import { fileURLToPath } from "node:url";
import { gpuDeviceNode } from "../../io/devices.ts";
import { encodeOnnxModel, OnnxGraphBuilder } from "../../io/onnx.ts";
import { ONNX_IR_VERSION, ONNX_OPSET } from "./graph.ts";

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;
export type OrtTensor = Ort.Tensor;

/** The npm package and version, as pinned in deno.json. */
export const ORT_PACKAGE = "onnxruntime-node";
export const ORT_VERSION = "1.30.0";

/** Devices ONNX Runtime can run on here, in the order `auto` tries them: fastest first. */
export const ORT_DEVICES = ["cuda", "webgpu", "cpu"] as const;
export type OrtDevice = typeof ORT_DEVICES[number];

const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Where Deno unpacks the package (`nodeModulesDir: auto`). */
export function ortPackageDir(): string {
  return `${PROJECT_ROOT}node_modules/.deno/${ORT_PACKAGE}@${ORT_VERSION}/node_modules/${ORT_PACKAGE}`;
}

/** The folder of this platform's native library, where the CUDA provider libraries go too. */
export function ortNativeDir(): string {
  return `${ortPackageDir()}/bin/napi-v6/${Deno.build.os === "windows" ? "win32" : Deno.build.os}/${
    Deno.build.arch === "x86_64" ? "x64" : "arm64"
  }`;
}

/** The provider libraries the CUDA provider loads from the native folder (install script's). */
export const CUDA_PROVIDER_FILES = [
  "libonnxruntime_providers_shared.so",
  "libonnxruntime_providers_cuda.so",
] as const;

/** CUDA 12 / cuDNN 9 libraries the CUDA provider of ORT 1.30 links against. */
export const CUDA_RUNTIME_LIBRARIES = [
  "libcudart.so.12",
  "libcublas.so.12",
  "libcublasLt.so.12",
  "libcufft.so.11",
  "libcudnn.so.9",
] as const;

/** How to get the CUDA provider libraries into the package. */
export const CUDA_PROVIDER_HINT = `get them with ONNXRUNTIME_NODE_INSTALL=cuda12 deno install ` +
  `--allow-scripts=npm:${ORT_PACKAGE}@${ORT_VERSION} (its install script fetches them from ` +
  `NuGet: Microsoft.ML.OnnxRuntime.Gpu.Linux ${ORT_VERSION}, runtimes/linux-x64/native/; ` +
  `copying those two files into ${ortNativeDir()} works too)`;

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Whether the dynamic loader finds `name` (dlopen with no symbols; needs --allow-ffi). */
export function sharedLibraryLoads(name: string): boolean {
  try {
    Deno.dlopen(name, {}).close();
    return true;
  } catch {
    return false;
  }
}

/** Why something cannot be used: a short reason, and how to get it where there is a way. */
export interface Unavailable {
  reason: string;
  hint?: string;
}

/** Why the CUDA provider cannot open here, or null when its libraries are all present. */
export function cudaProviderMissing(): Unavailable | null {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return { reason: "the npm package has CUDA provider libraries for linux-x64 only" };
  }
  const missingFiles = CUDA_PROVIDER_FILES.filter((file) =>
    !fileExists(`${ortNativeDir()}/${file}`)
  );
  if (missingFiles.length > 0) {
    return {
      reason: "CUDA provider libraries not installed",
      hint: `${missingFiles.join(" and ")} are missing; ${CUDA_PROVIDER_HINT}`,
    };
  }
  const missingLibraries = CUDA_RUNTIME_LIBRARIES.filter((name) => !sharedLibraryLoads(name));
  if (missingLibraries.length > 0) {
    return {
      reason: `CUDA 12 / cuDNN 9 libraries not found: ${missingLibraries.join(", ")}`,
      hint: "install the CUDA 12 runtime and cuDNN 9, or add their folder to LD_LIBRARY_PATH",
    };
  }
  return null;
}

let loaded: Promise<OrtModule | Error> | null = null;

/** The ORT module, loaded once; an Error (not thrown) when its native library cannot load. */
export function loadOrt(): Promise<OrtModule | Error> {
  loaded ??= (async () => {
    try {
      const ort = await import("onnxruntime-node");
      // Errors reach us as exceptions; ORT's own log would repeat them on stderr.
      ort.env.logLevel = "error";
      return ort;
    } catch (error) {
      const message = (error as Error).message.split("\n")[0];
      return new Error(
        `${ORT_PACKAGE}@${ORT_VERSION} did not load (${message}); it installs with the ` +
          `project's other npm packages on linux, macOS and Windows (x64, arm64)`,
        { cause: error },
      );
    }
  })();
  return loaded;
}

/** The options every session of the project gets. */
export function sessionOptions(device: OrtDevice): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [device], // ORT adds its CPU provider for any node the device lacks
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    // ORT's default is the physical core count; use every core the process may run on.
    intraOpNumThreads: device === "cpu" ? navigator.hardwareConcurrency : 0,
    interOpNumThreads: 1,
    // ORT's workers spin-wait after each op by default. Here they share the CPU with the main
    // thread (reading and normalising the next batch, scoring, training between evaluations),
    // and a run holds two sessions per model state: spinning workers took that CPU. Measured on
    // the 2-core machine: the quickstart's heads and evaluations rerun on ONNX Runtime 2.5-2.8 s
    // of CPU with spinning, 1.0-1.3 s without (TF.js: 1.6-1.9 s); ViT-B/16 images/s unchanged.
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
}

/** A one-node graph (Relu on a float32 [2]) whose session tells whether a provider opens. */
function probeModel(): Uint8Array {
  const g = new OnnxGraphBuilder("probe");
  const x = g.input({ name: "x", type: "float32", shape: [2] });
  g.output(g.node("Relu", [x]), { name: "y", type: "float32", shape: [2] });
  return encodeOnnxModel({
    graph: g.build(),
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: "rankone",
    producerVersion: "1",
  });
}

/** Why `device` cannot be used by a session, known without trying it; null when worth trying. */
function knownMissing(device: OrtDevice): Unavailable | null {
  if (device === "cuda") return cudaProviderMissing();
  if (device !== "webgpu" || Deno.build.os !== "linux") return null;
  if (!sharedLibraryLoads("libvulkan.so.1")) {
    return {
      reason: "no Vulkan loader (libvulkan.so.1)",
      hint: "ORT's WebGPU (Dawn) needs Vulkan on Linux: install the GPU driver's Vulkan " +
        "support (Dawn refuses software adapters such as lavapipe)",
    };
  }
  // Without a GPU, Vulkan offers software adapters only, which Dawn refuses after printing its
  // warnings: say so without trying.
  if (!gpuDeviceNode()) {
    return {
      reason: "no GPU device (/dev/dri/renderD*, /dev/nvidia*)",
      hint: "ORT's WebGPU (Dawn) needs a GPU's Vulkan driver; it refuses software adapters",
    };
  }
  return null;
}

/**
 * ORT's error in a few words: the first line, without ORT_ENFORCE's source location, function
 * and condition (`/onnxruntime_src/...cc:136 f() cond was false. Failed to get a WebGPU adapter`
 * -> `Failed to get a WebGPU adapter`), at most 300 characters.
 */
export function ortMessage(error: unknown): string {
  const line = String((error as Error)?.message ?? error).split("\n")[0]!.replace(/^Error: /, "");
  const enforced = /^\S+:\d+ .*? was false\.\s*(.+)$/.exec(line);
  return (enforced?.[1] ?? line).slice(0, 300);
}

const probes = new Map<OrtDevice, Promise<Unavailable | null>>();

/**
 * Null when a session on `device` opens (a one-node probe runs), else why not. Cached per
 * process. Checks on disk first, so a missing CUDA library gives a reason instead of ORT's log.
 */
export function probeDevice(ort: OrtModule, device: OrtDevice): Promise<Unavailable | null> {
  let probe = probes.get(device);
  if (probe === undefined) {
    probe = (async () => {
      const missing = knownMissing(device);
      if (missing !== null) return missing;
      try {
        const session = await ort.InferenceSession.create(probeModel(), {
          ...sessionOptions(device),
          logSeverityLevel: 4,
        });
        try {
          await session.run({ x: new ort.Tensor("float32", Float32Array.from([-1, 1]), [2]) });
        } finally {
          await session.release();
        }
        return null;
      } catch (error) {
        return {
          reason: `ONNX Runtime's ${device} provider did not open: ${ortMessage(error)}`,
        };
      }
    })();
    probes.set(device, probe);
  }
  return probe;
}

/** A session for `model` (`.onnx` bytes) on `device`, with graph optimisations on. */
export async function createSession(
  ort: OrtModule,
  model: Uint8Array,
  device: OrtDevice,
): Promise<OrtSession> {
  return await ort.InferenceSession.create(model, sessionOptions(device));
}

/** Everything `deno task doctor` says about ONNX Runtime. */
export interface OrtReport {
  version: string;
  /** Null when the module and its native library load. */
  runtime: Unavailable | null;
  /** Providers the native library was built with (`bundled`: in the npm package). */
  providers: { name: string; bundled: boolean }[];
  /** Each device: null = a session opens, else why not. */
  devices: Record<OrtDevice, Unavailable | null>;
  /** The CUDA provider's libraries in the package folder, and CUDA's on the library path. */
  cuda: { file: string; found: boolean }[];
}

/** Loads ONNX Runtime and probes every device (not only until one opens). */
export async function ortReport(): Promise<OrtReport> {
  const cuda = [
    ...CUDA_PROVIDER_FILES.map((file) => ({
      file,
      found: fileExists(`${ortNativeDir()}/${file}`),
    })),
    ...CUDA_RUNTIME_LIBRARIES.map((file) => ({ file, found: sharedLibraryLoads(file) })),
  ];
  const ort = await loadOrt();
  if (ort instanceof Error) {
    const notLoaded = { reason: "ONNX Runtime did not load" };
    return {
      version: ORT_VERSION,
      runtime: { reason: ort.message },
      providers: [],
      devices: { cuda: notLoaded, webgpu: notLoaded, cpu: notLoaded },
      cuda,
    };
  }
  const devices = {} as Record<OrtDevice, Unavailable | null>;
  for (const device of ORT_DEVICES) devices[device] = await probeDevice(ort, device);
  return {
    version: ort.env.versions.node ?? ORT_VERSION,
    runtime: null,
    providers: ort.listSupportedBackends(),
    devices,
    cuda,
  };
}
