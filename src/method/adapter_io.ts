/**
 * Starting adapter values from a folder of `.npy` files, one per tensor, named
 * `<module>.<lora_A|lora_B|router_w|router_b>.npy` in the release's (PyTorch) layouts:
 *   `lora_A` [r, d_in], `lora_B` [d_out, r], `router_w` [r, d_in], `router_b` [r].
 * Module names are the project's (`text.blocks.3.attn.q`, `visual.blocks.1.mlp.proj`). This is
 * how a release checkpoint (exported tensor by tensor with numpy) or `fixtures/train-ref/init/`
 * becomes a warm start for `trainTask` (`TrainOptions.initialAdapters`); shapes are checked
 * against the model and method when the pool is built. `adapterValuesOf` and `writeAdapterFolder`
 * go the other way, from a pool to such a folder.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { npyToFloat32, readNpy, writeNpy } from "../io/npy.ts";
import type { Float32Tensor } from "../io/safetensors.ts";
import {
  ADAPTER_VALUE_NAMES,
  type AdapterPool,
  type AdapterValues,
  type InitialAdapters,
} from "./pool.ts";

type Field = keyof AdapterValues;

const FIELD_BY_SUFFIX = new Map<string, Field>(
  (Object.entries(ADAPTER_VALUE_NAMES) as [Field, string][]).map(([field, suffix]) => [
    suffix,
    field,
  ]),
);
const FILE_PATTERN = /^(.+)\.(lora_A|lora_B|router_w|router_b)\.npy$/;

async function listNpyFiles(folder: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isFile && entry.name.endsWith(".npy")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      throw new UserError(`Cannot read adapter folder ${folder}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  return names.sort();
}

/**
 * Reads every `<module>.<tensor>.npy` of `folder` (other files are ignored). An `.npy` file with
 * another name, a module without both `lora_A` and `lora_B`, a router half, or a folder without
 * adapter files is a UserError naming the folder and file.
 */
export async function readAdapterFolder(folder: string): Promise<InitialAdapters> {
  const parts = new Map<string, Partial<Record<Field, Float32Tensor>>>();
  for (const name of await listNpyFiles(folder)) {
    const path = `${folder}/${name}`;
    const match = FILE_PATTERN.exec(name);
    if (match === null) {
      throw new UserError(
        `${path}: not an adapter tensor (expected <module>.lora_A.npy, .lora_B.npy, ` +
          `.router_w.npy or .router_b.npy)`,
      );
    }
    const [, module, suffix] = match as unknown as [string, string, string];
    const array = await readNpy(path);
    const entry = parts.get(module) ?? {};
    entry[FIELD_BY_SUFFIX.get(suffix)!] = { shape: array.shape, data: npyToFloat32(array, path) };
    parts.set(module, entry);
  }
  if (parts.size === 0) {
    throw new UserError(`${folder}: no adapter tensors (<module>.lora_A.npy, ...) in the folder`);
  }
  const modules = new Map<string, AdapterValues>();
  for (const [module, { loraA, loraB, routerWeight, routerBias }] of parts) {
    const missing = (field: Field) =>
      new UserError(`${folder}/${module}.${ADAPTER_VALUE_NAMES[field]}.npy is missing`);
    if (loraA === undefined) throw missing("loraA");
    if (loraB === undefined) throw missing("loraB");
    if (routerWeight === undefined && routerBias !== undefined) throw missing("routerWeight");
    if (routerBias === undefined && routerWeight !== undefined) throw missing("routerBias");
    modules.set(module, {
      loraA,
      loraB,
      ...(routerWeight === undefined ? {} : { routerWeight }),
      ...(routerBias === undefined ? {} : { routerBias }),
    });
  }
  return { source: folder, modules };
}

/** A [rows, cols] matrix transposed on the device and read back: [cols, rows]. */
async function transposedValues(matrix: tf.Tensor2D): Promise<Float32Tensor> {
  const transposed = tf.transpose(matrix);
  const shape = transposed.shape;
  const data = await transposed.data() as Float32Array;
  transposed.dispose();
  return { shape, data };
}

/** A pool's current values in the release's layouts, by module (read asynchronously). */
export async function adapterValuesOf(pool: AdapterPool): Promise<Map<string, AdapterValues>> {
  const modules = new Map<string, AdapterValues>();
  for (const [name, adapter] of pool.adapters) {
    const values: AdapterValues = {
      loraA: await transposedValues(adapter.down), // [d_in, r] -> [r, d_in]
      loraB: await transposedValues(adapter.up), // [r, d_out] -> [d_out, r]
    };
    if (adapter.routerWeight !== null && adapter.routerBias !== null) {
      values.routerWeight = await transposedValues(adapter.routerWeight); // -> [r, d_in]
      values.routerBias = {
        shape: adapter.routerBias.shape,
        data: await adapter.routerBias.data() as Float32Array,
      };
    }
    modules.set(name, values);
  }
  return modules;
}

/** Writes `modules` as `<module>.<tensor>.npy` files into `folder` (created), each atomically. */
export async function writeAdapterFolder(
  folder: string,
  modules: ReadonlyMap<string, AdapterValues>,
): Promise<void> {
  await Deno.mkdir(folder, { recursive: true });
  for (const [module, values] of modules) {
    for (const field of Object.keys(ADAPTER_VALUE_NAMES) as Field[]) {
      const tensor = values[field];
      if (tensor === undefined) continue;
      await writeNpy(`${folder}/${module}.${ADAPTER_VALUE_NAMES[field]}.npy`, {
        dtype: "float32",
        shape: tensor.shape,
        data: tensor.data,
      });
    }
  }
}
