/**
 * A `TaskDelta` as one safetensors file, in the release's (PyTorch) layouts so the tensors read
 * like the authors' checkpoints:
 *   `<module>.lora_A` [m, d_in]      merged experts' rows of A
 *   `<module>.lora_B` [d_out, m]     merged experts' columns of B
 *   `<module>.experts` [m]           their indices in the pool (ascending)
 *   `<module>.counts` [r]            activation counts of the task
 *   `<module>.ago_B` [d_out, c]      B columns kept for later tasks' AGO term
 *   `<module>.router.weight` [r, d_in], `<module>.router.bias` [r]   (when the method has one)
 *   `dense.<tensor>`                 full fine-tuning: a backbone tensor's new values
 * `__metadata__`: format, task, method, rank, scale, and each module's [d_in, d_out].
 */
import { UserError } from "../errors.ts";
import {
  type Float32Tensor,
  readSafetensors,
  SafetensorsReader,
  writeSafetensors,
} from "../io/safetensors.ts";
import type { DenseUpdate, ModuleDelta, TaskDelta } from "./delta.ts";

const FORMAT = "rankone-task-delta/1";

function transposed(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = values[i * cols + j]!;
  }
  return out;
}

/** Writes `delta` to `path` (atomically: temp file + rename). */
export async function saveTaskDelta(path: string, delta: TaskDelta): Promise<void> {
  const tensors = new Map<string, Float32Tensor>();
  const shapes: Record<string, [number, number]> = {};
  for (const module of delta.modules) {
    const { name, dIn, dOut } = module;
    const m = module.experts.length;
    const c = module.agoRows.length / dOut;
    shapes[name] = [dIn, dOut];
    tensors.set(`${name}.lora_A`, { shape: [m, dIn], data: transposed(module.down, dIn, m) });
    tensors.set(`${name}.lora_B`, { shape: [dOut, m], data: transposed(module.up, m, dOut) });
    tensors.set(`${name}.experts`, { shape: [m], data: Float32Array.from(module.experts) });
    tensors.set(`${name}.counts`, {
      shape: [module.counts.length],
      data: Float32Array.from(module.counts),
    });
    tensors.set(`${name}.ago_B`, { shape: [dOut, c], data: transposed(module.agoRows, c, dOut) });
    if (module.router !== null) {
      const r = module.router.bias.length;
      tensors.set(`${name}.router.weight`, {
        shape: [r, dIn],
        data: transposed(module.router.weight, dIn, r),
      });
      tensors.set(`${name}.router.bias`, { shape: [r], data: module.router.bias });
    }
  }
  for (const update of delta.dense) {
    tensors.set(`dense.${update.name}`, { shape: update.shape, data: update.data });
  }
  await writeSafetensors(path, tensors, {
    metadata: {
      format: FORMAT,
      task: delta.task,
      method: delta.method,
      rank: String(delta.rank),
      scale: String(delta.scale),
      modules: JSON.stringify(shapes),
    },
  });
}

/** Reads a file written by `saveTaskDelta`; anything else is a UserError naming the file. */
export async function loadTaskDelta(path: string): Promise<TaskDelta> {
  let metadata: Record<string, string>;
  {
    using reader = await SafetensorsReader.open(path);
    metadata = { ...reader.metadata };
  }
  if (metadata.format !== FORMAT) {
    throw new UserError(
      `Cannot load ${path}: not a task delta (metadata format ${
        JSON.stringify(metadata.format)
      }, expected "${FORMAT}")`,
    );
  }
  const tensors = await readSafetensors(path);
  const take = (key: string): Float32Tensor => {
    const tensor = tensors.get(key);
    if (tensor === undefined) {
      throw new UserError(`Cannot load ${path}: tensor "${key}" is missing`);
    }
    return tensor;
  };
  const shapes = JSON.parse(metadata.modules ?? "{}") as Record<string, [number, number]>;
  const modules: ModuleDelta[] = [];
  for (const [name, [dIn, dOut]] of Object.entries(shapes)) {
    const loraA = take(`${name}.lora_A`);
    const m = loraA.shape[0]!;
    const agoB = take(`${name}.ago_B`);
    const c = agoB.shape[1]!;
    const routerWeight = tensors.get(`${name}.router.weight`);
    const routerBias = tensors.get(`${name}.router.bias`);
    modules.push({
      name,
      dIn,
      dOut,
      experts: Array.from(take(`${name}.experts`).data),
      down: transposed(loraA.data, m, dIn),
      up: transposed(take(`${name}.lora_B`).data, dOut, m),
      counts: Float64Array.from(take(`${name}.counts`).data),
      agoRows: transposed(agoB.data, dOut, c),
      router: routerWeight && routerBias
        ? {
          weight: transposed(routerWeight.data, routerBias.data.length, dIn),
          bias: routerBias.data,
        }
        : null,
    });
  }
  const dense: DenseUpdate[] = [];
  for (const [key, tensor] of tensors) {
    if (key.startsWith("dense.")) {
      dense.push({ name: key.slice("dense.".length), shape: tensor.shape, data: tensor.data });
    }
  }
  return {
    task: metadata.task ?? "",
    method: metadata.method ?? "",
    rank: Number(metadata.rank),
    scale: Number(metadata.scale),
    modules,
    dense,
  };
}
