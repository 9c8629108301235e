/**
 * What a task leaves behind: its merged experts (a low-rank weight delta per module), activation
 * counts, router, and the B columns later tasks' AGO term is kept orthogonal to. A model state
 * after task t is the base weights plus the deltas of tasks 1..t, applied in order.
 *
 * Merging (release `merge_BA`): W0ᵀ += (alpha / r) · B[:, S] · A[S, :] with S = the `m` experts
 * of highest activation count. In the input-major layout: W += scale · down[:, S] · up[S, :].
 */
import * as tf from "@tensorflow/tfjs";
import type { LinearLayer } from "../clip/linear.ts";
import { UserError } from "../errors.ts";
import { mergedExpertCount } from "./config.ts";
import type { AdapterPool } from "./pool.ts";
import { mostActivated } from "./routing.ts";

export interface ModuleDelta {
  /** e.g. `visual.blocks.3.attn.q` */
  name: string;
  dIn: number;
  dOut: number;
  /** Merged experts, ascending. */
  experts: number[];
  /** [d_in, m]: the merged experts' columns of `down` (= their rows of lora_A, transposed). */
  down: Float32Array;
  /** [m, d_out]: the merged experts' rows of `up` (= their columns of lora_B, transposed). */
  up: Float32Array;
  /** [r] activation counts of the task (the expert-activation figure reads these). */
  counts: Float64Array;
  /** [c, d_out]: B columns (as rows) this task adds to the AGO bank; c may be 0. */
  agoRows: Float32Array;
  /** The router after training ([d_in, r] weight, [r] bias), or null without one. */
  router: { weight: Float32Array; bias: Float32Array } | null;
}

/** A backbone tensor replaced wholesale (full fine-tuning): its new values. */
export interface DenseUpdate {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface TaskDelta {
  /** The task (dataset) it was trained on. */
  task: string;
  /** The method config's name. */
  method: string;
  rank: number;
  /** alpha / r */
  scale: number;
  modules: ModuleDelta[];
  dense: DenseUpdate[];
}

/** Columns `columns` of a row-major [rows, cols] matrix: [rows, columns.length]. */
function takeColumns(
  values: Float32Array,
  shape: [number, number],
  columns: readonly number[],
): Float32Array {
  const [rows, cols] = shape;
  const out = new Float32Array(rows * columns.length);
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < columns.length; c++) {
      out[i * columns.length + c] = values[i * cols + columns[c]!]!;
    }
  }
  return out;
}

/** Rows `rows` of a row-major [n, cols] matrix: [rows.length, cols]. */
function takeRows(values: Float32Array, cols: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((row, i) => out.set(values.subarray(row * cols, (row + 1) * cols), i * cols));
  return out;
}

/** The experts whose B columns enter the AGO bank (also used for the current task's term). */
export function agoExperts(
  counts: ArrayLike<number>,
  options: { columns: "critical" | "all"; critical: number },
): number[] {
  if (options.columns === "all") return Array.from({ length: counts.length }, (_, i) => i);
  return mostActivated(counts, options.critical);
}

/**
 * Reads the trained pool into a `TaskDelta` (plain arrays; the pool is left untouched). Values
 * come back asynchronously (WebGPU has no synchronous reads); this is where a task's activation
 * counts leave the device.
 */
export async function extractTaskDelta(
  pool: AdapterPool,
  options: { task: string },
): Promise<TaskDelta> {
  const { config } = pool;
  const m = mergedExpertCount(config);
  const modules: ModuleDelta[] = [];
  for (const adapter of pool.adapters.values()) {
    const { dIn, dOut, name } = adapter.module;
    const [countValues, down, up, routerWeight, routerBias] = await Promise.all([
      adapter.counts.data() as Promise<Float32Array>, // [r]
      adapter.down.data() as Promise<Float32Array>, // [d_in, r]
      adapter.up.data() as Promise<Float32Array>, // [r, d_out]
      adapter.routerWeight?.data() as Promise<Float32Array> | undefined, // [d_in, r]
      adapter.routerBias?.data() as Promise<Float32Array> | undefined, // [r]
    ]);
    const counts = Float64Array.from(countValues);
    const experts = mostActivated(counts, m);
    const ago = config.ago.enabled
      ? agoExperts(counts, { columns: config.ago.past, critical: config.ago.critical })
      : [];
    modules.push({
      name,
      dIn,
      dOut,
      experts,
      down: takeColumns(down, [dIn, config.rank], experts),
      up: takeRows(up, dOut, experts),
      counts,
      agoRows: takeRows(up, dOut, ago),
      router: routerWeight && routerBias
        ? { weight: Float32Array.from(routerWeight), bias: Float32Array.from(routerBias) }
        : null,
    });
  }
  return {
    task: options.task,
    method: config.name,
    rank: config.rank,
    scale: pool.scale,
    modules,
    dense: [],
  };
}

/** Anything holding the backbone's linears by name (a `ClipModel`). */
export interface LinearHost {
  linears: ReadonlyMap<string, LinearLayer>;
}

/** Receives a backbone tensor other than a linear (full fine-tuning); returns false if unknown. */
export type DenseSetter = (name: string, value: tf.Tensor) => boolean;

/**
 * Merges `delta` into `model`'s weights in place: W += scale · down · up per module (and dense
 * replacements). The old weight tensors are disposed. Modules the model lacks are a UserError.
 */
export function applyTaskDelta(
  model: LinearHost,
  delta: TaskDelta,
  options: { setDense?: DenseSetter } = {},
): void {
  for (const module of delta.modules) {
    const layer = model.linears.get(module.name);
    if (layer === undefined) {
      throw new UserError(
        `Cannot apply the delta of task "${delta.task}": the model has no linear "${module.name}"`,
      );
    }
    const [dIn, dOut] = layer.weight.shape;
    if (dIn !== module.dIn || dOut !== module.dOut) {
      throw new UserError(
        `Cannot apply the delta of task "${delta.task}": "${module.name}" is [${dIn}, ${dOut}], ` +
          `the delta expects [${module.dIn}, ${module.dOut}]`,
      );
    }
    const m = module.experts.length;
    if (m === 0) continue;
    const merged = tf.tidy(() =>
      tf.add(
        layer.weight,
        tf.mul(
          tf.matMul(tf.tensor2d(module.down, [dIn, m]), tf.tensor2d(module.up, [m, dOut])),
          delta.scale,
        ),
      ) as tf.Tensor2D
    );
    layer.weight.dispose();
    layer.weight = merged;
  }
  for (const update of delta.dense) {
    const [, name, field] = /^(.*)\.(weight|bias)$/.exec(update.name) ?? [];
    const layer = name === undefined ? undefined : model.linears.get(name);
    if (layer !== undefined && field === "weight") {
      layer.weight.dispose();
      layer.weight = tf.tensor2d(update.data, update.shape as [number, number]);
    } else if (layer !== undefined && field === "bias") {
      layer.bias.dispose();
      layer.bias = tf.tensor1d(update.data);
    } else {
      const value = tf.tensor(update.data, update.shape);
      if (!options.setDense?.(update.name, value)) {
        value.dispose();
        throw new UserError(
          `Cannot apply the delta of task "${delta.task}": the model has no tensor "${update.name}"`,
        );
      }
    }
  }
}

/** Per module, the B columns of every earlier task kept for AGO: rows [count, d_out]. */
export interface AgoBankEntry {
  dIn: number;
  dOut: number;
  rows: Float32Array;
  /** Columns in the bank; 0 where no task kept any (AGO then has no term for the module). */
  count: number;
}

/**
 * The AGO bank after `deltas` (tasks in order): per module, in the order modules first appear,
 * the tasks' `agoRows` concatenated. The one join of the bank: the `orthogonalize` stage extends
 * the stored bank with it (`agoBank([bank, task])`, stored by `agoBankDelta`), training reads it
 * from the deltas it is given.
 */
export function agoBank(deltas: readonly TaskDelta[]): Map<string, AgoBankEntry> {
  const parts = new Map<string, { dIn: number; dOut: number; rows: Float32Array[] }>();
  for (const delta of deltas) {
    for (const module of delta.modules) {
      const entry = parts.get(module.name) ?? { dIn: module.dIn, dOut: module.dOut, rows: [] };
      entry.rows.push(module.agoRows);
      parts.set(module.name, entry);
    }
  }
  const bank = new Map<string, AgoBankEntry>();
  for (const [name, { dIn, dOut, rows }] of parts) {
    const total = rows.reduce((sum, part) => sum + part.length, 0);
    const joined = new Float32Array(total);
    let offset = 0;
    for (const part of rows) {
      joined.set(part, offset);
      offset += part.length;
    }
    bank.set(name, { dIn, dOut, rows: joined, count: total / dOut });
  }
  return bank;
}

/**
 * The bank as a `TaskDelta` whose modules hold only `agoRows` (no experts, counts or router), so
 * it is stored and read like any task's delta (delta_io.ts) and a later `agoBank` joins it again.
 */
export function agoBankDelta(
  bank: ReadonlyMap<string, AgoBankEntry>,
  about: Pick<TaskDelta, "task" | "method" | "rank" | "scale">,
): TaskDelta {
  const modules = Array.from(bank, ([name, entry]): ModuleDelta => ({
    name,
    dIn: entry.dIn,
    dOut: entry.dOut,
    experts: [],
    down: new Float32Array(0),
    up: new Float32Array(0),
    counts: new Float64Array(0),
    agoRows: entry.rows,
    router: null,
  }));
  return { ...about, modules, dense: [] };
}
