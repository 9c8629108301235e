/**
 * Which TensorFlow.js backend runs the tensors, and the process-wide tfjs settings every backend
 * needs. Call `useBackend()` once before building tensors.
 *
 * Measured on the project machines (../shared/design/STACK.md): wasm (SIMD) is ~50x faster than
 * cpu for matmuls; a software WebGPU adapter (Mesa llvmpipe / lavapipe) is slower than wasm, so
 * `auto` takes WebGPU only on real hardware. tfjs-node(-gpu) wrap libtensorflow and are fastest
 * where they can be installed; they are optional and imported only when asked for or present.
 *
 * wasm threads stay off: tfjs-backend-wasm decides from `env().IS_NODE` (true under Deno) to start
 * its pthread workers through node's worker_threads with a blob: URL, which Deno's worker_threads
 * refuses (`ERR_WORKER_PATH`). Making that work means patching the emscripten loader, not a flag.
 */
import * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import { hardwareGpuPossible } from "../io/devices.ts";
import { BACKEND_NAMES, type BackendName } from "./settings.ts";

export type ConcreteBackend = Exclude<BackendName, "auto">;

/** The npm package (pinned to the tfjs version in deno.json) behind each optional backend. */
const NODE_PACKAGES = {
  tensorflow: "@tensorflow/tfjs-node",
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
} as const;
const TFJS_VERSION = tf.version.tfjs;

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

let gradientInstalled = false;

/** Swaps the last two axes: the explicit transpose the wasm backend wants. */
function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const perm = [...Array(x.rank).keys()];
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return tf.transpose(x, perm);
}

/**
 * The BatchMatMul gradient with explicit transposes instead of matMul's transposeA/transposeB
 * flags: tfjs-wasm runs the flagged matmul ~45x slower (a ViT-B block fwd+bwd 35.7 s -> 3.9 s).
 * Same math as tfjs-core's gradients/BatchMatMul_grad.ts, for every backend.
 */
export function installMatMulGradient(): void {
  if (gradientInstalled) return;
  gradientInstalled = true;
  const t = swapLastAxes;
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      const grad = dy as tf.Tensor;
      if (!transposeA && !transposeB) {
        // y = a b
        return { a: () => tf.matMul(grad, t(b)), b: () => tf.matMul(t(a), grad) };
      }
      if (!transposeA && transposeB) {
        // y = a bᵀ
        return { a: () => tf.matMul(grad, b), b: () => tf.matMul(t(grad), a) };
      }
      if (transposeA && !transposeB) {
        // y = aᵀ b
        return { a: () => tf.matMul(b, t(grad)), b: () => tf.matMul(a, grad) };
      }
      // y = aᵀ bᵀ
      return { a: () => tf.matMul(t(b), t(grad)), b: () => tf.matMul(t(grad), t(a)) };
    },
  });
}

/** The WebGPU adapter Deno offers, or null; software rasterisers report themselves as fallback. */
export async function webgpuAdapter(): Promise<{ software: boolean; description: string } | null> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (gpu === undefined) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (adapter === null) return null;
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const description = info.description || info.device || info.vendor;
    const software = info.isFallbackAdapter === true ||
      /llvmpipe|lavapipe|swiftshader|software/i.test(description);
    return { software, description };
  } catch {
    return null;
  }
}

/** Whether the WebGPU adapter is a software one (llvmpipe, lavapipe, ...); null without one. */
export async function webgpuIsSoftware(): Promise<boolean | null> {
  return (await webgpuAdapter())?.software ?? null;
}

/**
 * Whether tfjs-node(-gpu) is installed with its native binding (the install script that downloads
 * libtensorflow ran). Checked on disk so that asking never fetches the package from npm.
 */
function nodeBackendInstalled(name: keyof typeof NODE_PACKAGES): boolean {
  const store = `${PROJECT_ROOT}node_modules/.deno/${
    NODE_PACKAGES[name].replace("/", "+")
  }@${TFJS_VERSION}`;
  const lib = `${store}/node_modules/${NODE_PACKAGES[name]}/lib`;
  try {
    return [...Deno.readDirSync(lib)].some((entry) => {
      try {
        return Deno.statSync(`${lib}/${entry.name}/tfjs_binding.node`).isFile;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Loads the module that registers a backend with tfjs; a UserError when it is not available. */
async function registerBackend(name: ConcreteBackend): Promise<void> {
  switch (name) {
    case "cpu":
      return; // registered by @tensorflow/tfjs itself
    case "wasm":
      await import("@tensorflow/tfjs-backend-wasm");
      return;
    case "webgpu":
      if (await webgpuAdapter() === null) {
        throw new UserError(
          "Backend webgpu: no WebGPU adapter (on Linux without a GPU, " +
            "`apt-get install mesa-vulkan-drivers` gives a software one)",
        );
      }
      await import("@tensorflow/tfjs-backend-webgpu");
      return;
    case "tensorflow":
    case "tensorflow-gpu": {
      const specifier = `npm:${NODE_PACKAGES[name]}@${TFJS_VERSION}`;
      const howToInstall = `Install it with \`deno install --allow-scripts=${specifier} ` +
        `${specifier}\` (its install script downloads libtensorflow), or pick --backend wasm.`;
      if (!nodeBackendInstalled(name)) {
        throw new UserError(
          `Backend ${name} needs ${NODE_PACKAGES[name]} with its native binding, which is not ` +
            `installed. ${howToInstall}`,
        );
      }
      try {
        await import(specifier);
      } catch (error) {
        throw new UserError(
          `Backend ${name}: ${NODE_PACKAGES[name]} failed to load ` +
            `(${(error as Error).message.split("\n")[0]}). ${howToInstall}`,
          { cause: error },
        );
      }
      return;
    }
  }
}

/** tfjs registers tfjs-node and tfjs-node-gpu under one name. */
function tfjsName(name: ConcreteBackend): string {
  return name === "tensorflow-gpu" ? "tensorflow" : name;
}

async function activate(name: ConcreteBackend): Promise<void> {
  await registerBackend(name);
  // setBackend resolves false (after logging) when the backend's factory fails.
  if (!(await tf.setBackend(tfjsName(name)))) {
    throw new UserError(`Backend ${name} failed to initialise`);
  }
  await tf.ready();
}

/**
 * tfjs's cpu backend prints a banner recommending tfjs-node on its first write under Node (and
 * Deno); `auto` already picks the fastest backend, so the banner is noise. Marked used at load.
 */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu !== null) cpu.firstUse = false;
}
silenceCpuBanner();

/** Order `auto` tries, fastest first. */
async function autoCandidates(): Promise<ConcreteBackend[]> {
  const candidates: ConcreteBackend[] = [];
  if (nodeBackendInstalled("tensorflow-gpu")) candidates.push("tensorflow-gpu");
  if (nodeBackendInstalled("tensorflow")) candidates.push("tensorflow");
  // auto never picks a software adapter, and without a GPU device node Linux can offer only one:
  // not asking spares every run the Vulkan loader's complaints on stderr.
  const adapter = hardwareGpuPossible() ? await webgpuAdapter() : null;
  if (adapter !== null && !adapter.software) candidates.push("webgpu");
  candidates.push("wasm", "cpu");
  return candidates;
}

let current: ConcreteBackend | null = null;

/**
 * Selects the tfjs backend and returns the one actually in use. `auto` = the fastest available:
 * tfjs-node-gpu / tfjs-node if installed, WebGPU on a real (non-software) adapter, else wasm,
 * else cpu. A named backend that cannot start is a UserError saying how to get it.
 */
export async function useBackend(name: BackendName = "auto"): Promise<ConcreteBackend> {
  installMatMulGradient();
  if (name !== "auto") {
    await activate(name); // cheap when already active: the module import and backend are cached
    current = name;
    return name;
  }
  for (const candidate of await autoCandidates()) {
    try {
      await activate(candidate);
      current = candidate;
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new UserError("No TensorFlow.js backend could be initialised");
}

/** The backend `useBackend` last selected, or null. */
export function currentBackend(): ConcreteBackend | null {
  return current;
}

/**
 * Backends present on this machine for tests and benchmarks: cpu, wasm, and webgpu when any
 * adapter exists (software ones included: values must match everywhere). `RANKONE_TEST_BACKENDS`
 * (comma-separated) narrows the list. `RANKONE_REQUIRE_WEBGPU=1` (CI sets it) makes a missing
 * adapter an error, so that WebGPU tests fail rather than skip.
 */
export async function availableBackends(): Promise<ConcreteBackend[]> {
  const found: ConcreteBackend[] = ["cpu", "wasm"];
  if (await webgpuAdapter() !== null) {
    found.push("webgpu");
  } else if (Deno.env.get("RANKONE_REQUIRE_WEBGPU") === "1") {
    throw new Error(
      "RANKONE_REQUIRE_WEBGPU=1 but Deno finds no WebGPU adapter (on Linux without a GPU, " +
        "install Mesa's software Vulkan driver: apt-get install mesa-vulkan-drivers libvulkan1)",
    );
  }
  const only = Deno.env.get("RANKONE_TEST_BACKENDS");
  if (only === undefined || only.trim() === "") return found;
  const wanted = only.split(",").map((part) => part.trim());
  return found.filter((backend) => wanted.includes(backend));
}

/** Whether a backend can start here, and why not (with how to get it) when it cannot. */
export interface BackendStatus {
  name: ConcreteBackend;
  available: boolean;
  /** What it is, or why it cannot start. */
  detail: string;
}

/**
 * Tries every backend (each becomes the active one in turn) and reports which start; then the
 * one `auto` picks is made active. For `deno task doctor`.
 */
export async function backendStatuses(): Promise<
  { backends: BackendStatus[]; auto: ConcreteBackend }
> {
  const adapter = await webgpuAdapter();
  const details: Record<ConcreteBackend, string> = {
    cpu: "plain JavaScript (reference; slow)",
    wasm: "WebAssembly with SIMD, one thread",
    webgpu: adapter === null
      ? ""
      : `adapter ${adapter.description}${adapter.software ? " (software: auto skips it)" : ""}`,
    tensorflow: "tfjs-node (libtensorflow, CPU)",
    "tensorflow-gpu": "tfjs-node-gpu (libtensorflow, CUDA)",
  };
  const backends: BackendStatus[] = [];
  for (const name of BACKEND_NAMES) {
    if (name === "auto") continue;
    try {
      await useBackend(name);
      backends.push({ name, available: true, detail: details[name] });
    } catch (error) {
      backends.push({ name, available: false, detail: (error as Error).message });
    }
  }
  return { backends, auto: await useBackend("auto") };
}

/**
 * Device memory the active backend itself holds, in bytes, where it keeps such a figure: WebGPU's
 * buffer pool (tfjs keeps released buffers for reuse by exact size and never shrinks the pool, so
 * after a training step this is at least the most the step held at once) or the wasm heap (grows,
 * never shrinks). Null on cpu.
 */
export function backendBytes(): number | null {
  const backend = tf.backend() as unknown as {
    bufferManager?: { numBytesAllocated: number };
    wasm?: { HEAPU8: Uint8Array };
  };
  if (backend.bufferManager !== undefined) return backend.bufferManager.numBytesAllocated;
  if (backend.wasm !== undefined) return backend.wasm.HEAPU8.length;
  return null;
}

/**
 * How many compute pipelines tfjs-webgpu has compiled: its program cache holds one per shader key
 * (the op, its ranks, dtypes and tile fit, not the sizes, which travel as uniforms). Once every
 * program of a training step has been seen, the count stops growing: steps after that compile
 * nothing. Null on other backends.
 */
export function compiledPipelines(): number | null {
  const backend = tf.backend() as unknown as { pipelineCache?: Record<string, unknown> };
  return backend.pipelineCache === undefined ? null : Object.keys(backend.pipelineCache).length;
}

/** What crossed between the host and the active backend while a body ran. */
export interface Transfers {
  /** Reads of tensor values back to the host (`data()`, `dataSync()`, ...). */
  reads: number;
  /**
   * Tensors written from host arrays (`tf.tensor(...)`, random draws, scalars, ops a backend
   * runs on the host for small inputs), and their bytes. Null on cpu, where every kernel writes
   * its output from the host.
   */
  writes: number | null;
  writeBytes: number | null;
}

/**
 * Runs `body` and counts the reads and writes it makes: e.g. that a training step reads back only
 * its loss. `body` gets the running counts (to read between steps). Reads are counted where every
 * tensor read passes (the engine), writes at the active backend. A read of values the backend
 * still holds on the host counts too (WebGPU keeps a fresh tensor's values there until a kernel
 * needs them).
 */
export async function countTransfers<T>(
  body: (running: Readonly<Transfers>) => Promise<T>,
): Promise<{ result: T; transfers: Transfers }> {
  const engine = tf.engine();
  const backend = engine.backend;
  const { read, readSync } = engine;
  const write = backend.write;
  const hostBackend = tf.getBackend() === "cpu";
  const transfers: Transfers = {
    reads: 0,
    writes: hostBackend ? null : 0,
    writeBytes: hostBackend ? null : 0,
  };
  engine.read = function (this: typeof engine, dataId: object) {
    transfers.reads++;
    return read.call(this, dataId);
  };
  engine.readSync = function (this: typeof engine, dataId: object) {
    transfers.reads++;
    return readSync.call(this, dataId);
  };
  backend.write = function (this: typeof backend, values, shape, dtype) {
    // Kernels allocate their outputs through write() without values: not a transfer.
    if (!hostBackend && values !== null && values !== undefined) {
      transfers.writes!++;
      transfers.writeBytes! += ArrayBuffer.isView(values) ? values.byteLength : 0;
    }
    return write.call(this, values, shape, dtype);
  };
  try {
    return { result: await body(transfers), transfers };
  } finally {
    engine.read = read;
    engine.readSync = readSync;
    backend.write = write;
  }
}
