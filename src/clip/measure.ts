/**
 * How a computation ran on the active tfjs backend, measured from the host without reading a
 * tensor back: the wall-clock rate of a loop's units (training steps, evaluation batches) with the
 * first unit's warm-up apart, the most tensor bytes held at once (the engine's own count, on every
 * backend), and the memory figure the backend itself keeps where it has one.
 *
 * These figures describe a run, not a result: they never enter a cache key.
 */
import * as tf from "@tensorflow/tfjs";

/** A loop's wall-clock rate: units (steps, batches) and the items (images) they processed. */
export interface Throughput {
  units: number;
  items: number;
  /** Seconds of all units. */
  seconds: number;
  /**
   * Seconds of the first unit alone: kernel compilation (WebGPU shaders), first allocations and
   * caches happen there, so it is reported apart from the rate.
   */
  firstUnitSeconds: number;
  /** Items of the first unit. */
  firstUnitItems: number;
}

/** Units per second after the first; null with fewer than two units. */
export function steadyUnitsPerSecond(run: Throughput): number | null {
  const seconds = run.seconds - run.firstUnitSeconds;
  return run.units < 2 || seconds <= 0 ? null : (run.units - 1) / seconds;
}

/** Items per second after the first unit; null with fewer than two units. */
export function steadyItemsPerSecond(run: Throughput): number | null {
  const seconds = run.seconds - run.firstUnitSeconds;
  return run.units < 2 || seconds <= 0 ? null : (run.items - run.firstUnitItems) / seconds;
}

/**
 * Times a loop from the host: `start()` before the first unit, `done(items)` at the end of each.
 * A unit ends when the loop has what it waits for (a training step: its loss read back and its
 * update queued), so queued device work is counted in the unit that waits for it.
 */
export class ThroughputMeter {
  readonly #now: () => number;
  #start: number | null = null;
  #firstEnd: number | null = null;
  #lastEnd = 0;
  #units = 0;
  #items = 0;
  #firstItems = 0;

  /** `now`: milliseconds (default `performance.now`); tests pass a clock of their own. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  start(): void {
    this.#start = this.#now();
  }

  /** One unit done, having processed `items` items. */
  done(items: number): void {
    if (this.#start === null) throw new Error("ThroughputMeter.done() before start()");
    this.#lastEnd = this.#now();
    this.#units++;
    this.#items += items;
    if (this.#firstEnd === null) {
      this.#firstEnd = this.#lastEnd;
      this.#firstItems = items;
    }
  }

  /** The units so far; null before the first one ended. */
  result(): Throughput | null {
    if (this.#start === null || this.#firstEnd === null) return null;
    return {
      units: this.#units,
      items: this.#items,
      seconds: (this.#lastEnd - this.#start) / 1000,
      firstUnitSeconds: (this.#firstEnd - this.#start) / 1000,
      firstUnitItems: this.#firstItems,
    };
  }
}

/** Watches the engine's count of tensor bytes; `peak()` is the most seen since start or reset. */
export interface TensorBytesWatch {
  peak(): number;
  /** Starts a new peak from the bytes held now. */
  resetPeak(): void;
  stop(): void;
}

interface EngineState {
  numBytes: number;
}

const watchers = new Set<{ peak: number }>();
let hooked: { state: EngineState; value: number } | null = null;

/**
 * Makes the engine's `numBytes` field (every tensor allocation and disposal updates it, on every
 * backend) report to the active watchers. A setter, not `tf.profile`: profiling times each kernel
 * and, without a backend timer, reads every kernel's output back synchronously.
 */
function hookEngine(): void {
  const state = (tf.engine() as unknown as { state: EngineState }).state;
  if (hooked?.state === state) return;
  const hook = { state, value: state.numBytes };
  hooked = hook;
  Object.defineProperty(state, "numBytes", {
    configurable: true,
    enumerable: true,
    get: () => hook.value,
    set: (bytes: number) => {
      hook.value = bytes;
      for (const watcher of watchers) if (bytes > watcher.peak) watcher.peak = bytes;
    },
  });
}

function unhookEngine(): void {
  if (hooked === null) return;
  const { state, value } = hooked;
  delete (state as Partial<EngineState>).numBytes;
  state.numBytes = value;
  hooked = null;
}

/**
 * Starts watching the most tensor bytes held at once (all live tensors: model weights, optimiser
 * state and activations). The same count `tf.memory().numBytes` gives, on any backend; reading it
 * touches no device.
 */
export function watchTensorBytes(): TensorBytesWatch {
  hookEngine();
  const watcher = { peak: tf.memory().numBytes };
  watchers.add(watcher);
  return {
    peak: () => watcher.peak,
    resetPeak: () => {
      watcher.peak = tf.memory().numBytes;
    },
    stop: () => {
      watchers.delete(watcher);
      if (watchers.size === 0) unhookEngine();
    },
  };
}

/** Memory the active backend itself holds, where it keeps such a figure. */
export interface BackendMemory {
  /**
   * - `webgpu-buffer-pool`: bytes of GPU buffers tfjs-webgpu has allocated; released buffers stay
   *   in its pool for reuse and the pool never shrinks, so this is the process's high-water mark
   *   of GPU buffers (the nearest to what `nvidia-smi` shows);
   * - `wasm-heap`: the size of the wasm heap, which grows and never shrinks: the process's
   *   high-water mark of tensor memory plus the allocator's overhead.
   */
  kind: "webgpu-buffer-pool" | "wasm-heap";
  bytes: number;
}

/** The active backend's own memory figure, or null (cpu, tfjs-node keep none). */
export function backendMemory(): BackendMemory | null {
  const backend = tf.backend() as unknown as {
    bufferManager?: { numBytesAllocated: number };
    wasm?: { HEAPU8: Uint8Array };
  };
  if (backend.bufferManager !== undefined) {
    return { kind: "webgpu-buffer-pool", bytes: backend.bufferManager.numBytesAllocated };
  }
  if (backend.wasm !== undefined) return { kind: "wasm-heap", bytes: backend.wasm.HEAPU8.length };
  return null;
}

/**
 * `value` (a stored record of a measured run, read back from JSON) when every key of `numbers`
 * holds a number and every key of `nullable` a number or null; else null, e.g. for a job recorded
 * before the figure existed.
 */
export function storedFigures(
  value: unknown,
  keys: { numbers: readonly string[]; nullable?: readonly string[] },
): Record<string, unknown> | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const isNumber = (key: string) => typeof record[key] === "number";
  if (!keys.numbers.every(isNumber)) return null;
  if (!(keys.nullable ?? []).every((key) => record[key] === null || isNumber(key))) return null;
  return record;
}
