/**
 * The AGO bank is joined in one place (`agoBank`): the `orthogonalize` stage stores the bank it
 * joins, and training joins the deltas it is given. Both paths give the same columns.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { InputArtifact } from "../src/cache/job.ts";
import type { Manifest } from "../src/cache/manifest.ts";
import { useBackend } from "../src/clip/backend.ts";
import { SeededRng } from "../src/io/rng.ts";
import { agoTensors, disposeAgoTensors } from "../src/method/ago.ts";
import { loadMethodConfig } from "../src/method/config.ts";
import { agoBank, extractTaskDelta, type TaskDelta } from "../src/method/delta.ts";
import { loadTaskDelta, saveTaskDelta } from "../src/method/delta_io.ts";
import { createAdapterPool, disposeAdapterPool } from "../src/method/pool.ts";
import { ResourcePool } from "../src/runner/resources.ts";
import { STAGE_RUNNERS } from "../src/stages/mod.ts";
import { quietJobContext } from "./job_context.ts";
import { MICRO_ARCH } from "./micro_clip.ts";
import { withTempDir } from "./temp_dir.ts";
import { assignTidy } from "./tiny_pool.ts";

/** Rows of `up` [r, d_out] per module that a task trained to; its delta is what `train` stores. */
interface TrainedTask {
  delta: TaskDelta;
  up: Map<string, Float32Array>;
}

/** A task on the micro CLIP with the default method (AGO keeps all r B columns: `past: all`). */
async function trainedTask(task: string, seed: number): Promise<TrainedTask> {
  const method = loadMethodConfig("expert-pool");
  const pool = createAdapterPool(MICRO_ARCH, method, { rng: new SeededRng(seed) });
  const rng = new SeededRng(seed + 1);
  const up = new Map<string, Float32Array>();
  for (const [name, adapter] of pool.adapters) {
    const [rank, dOut] = adapter.up.shape;
    const values = Float32Array.from({ length: rank * dOut }, () => rng.uniform(-1, 1));
    assignTidy(adapter.up, tf.tensor2d(values, [rank, dOut]));
    assignTidy(adapter.counts, tf.tensor1d(Array.from({ length: rank }, (_, e) => e + seed)));
    up.set(name, values);
  }
  const delta = await extractTaskDelta(pool, { task });
  disposeAdapterPool(pool);
  return { delta, up };
}

function artifact(dir: string): InputArtifact {
  return { dir, digest: "0".repeat(64), manifest: {} as Manifest };
}

/** Runs the orthogonalize stage on the train artifact in `train` (and a previous bank) into `out`. */
async function orthogonalize(out: string, inputs: { train: string; previous?: string }) {
  await Deno.mkdir(out);
  const resources = new ResourcePool().lease();
  await STAGE_RUNNERS.orthogonalize.run(
    quietJobContext(`orthogonalize/${out}`, {
      outDir: out,
      resources,
      inputs: {
        train: artifact(inputs.train),
        ...(inputs.previous === undefined ? {} : { previous: artifact(inputs.previous) }),
      },
    }),
    {},
  );
  await resources.release();
}

Deno.test("the orthogonalize stage's bank after two tasks equals agoBank of the two deltas: 12 + 12 columns per module", async () => {
  await useBackend("cpu");
  await withTempDir("rankone-ago-bank-", async (dir) => {
    const first = await trainedTask("DTD", 1);
    const second = await trainedTask("EuroSAT", 2);
    for (const [name, task] of [["train-1", first], ["train-2", second]] as const) {
      await Deno.mkdir(`${dir}/${name}`);
      await saveTaskDelta(`${dir}/${name}/delta.safetensors`, task.delta);
    }
    await orthogonalize(`${dir}/bank-1`, { train: `${dir}/train-1` });
    await orthogonalize(`${dir}/bank-2`, { train: `${dir}/train-2`, previous: `${dir}/bank-1` });

    const stored = await loadTaskDelta(`${dir}/bank-2/bank.safetensors`);
    assert.equal(stored.task, "ago-bank-after-EuroSAT");
    const fromStage = agoBank([stored]);
    const fromDeltas = agoBank([first.delta, second.delta]);
    assert.deepEqual([...fromStage.keys()], [...fromDeltas.keys()]);
    assert.deepEqual(fromStage, fromDeltas);

    // All 12 modules of the micro CLIP (q, k, v, out, fc, proj of one vision and one text block)
    // hold both tasks' 12 rows of `up`, in task order: rows 0..11 the first's, 12..23 the second's.
    const modules = 12;
    assert.equal(fromStage.size, modules);
    for (const [name, entry] of fromStage) {
      assert.equal(entry.count, 24, name);
      const dOut = entry.dOut;
      assert.deepEqual(entry.rows.subarray(0, 12 * dOut), first.up.get(name), name);
      assert.deepEqual(entry.rows.subarray(12 * dOut), second.up.get(name), name);
    }
    const json = JSON.parse(await Deno.readTextFile(`${dir}/bank-2/bank.json`));
    assert.deepEqual(json, { modules, columns: 24 * modules });
    const afterFirst = JSON.parse(await Deno.readTextFile(`${dir}/bank-1/bank.json`));
    assert.deepEqual(afterFirst, { modules, columns: 12 * modules });
  });
});

Deno.test("agoTensors leaves out modules whose tasks kept no columns (AGO disabled)", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  const { delta } = await trainedTask("DTD", 3);
  const withoutColumns = {
    ...delta,
    modules: delta.modules.map((module) => ({ ...module, agoRows: new Float32Array(0) })),
  };
  const bank = agoBank([withoutColumns, delta]);
  const tensors = agoTensors(agoBank([withoutColumns]));
  assert.equal(tensors.size, 0);
  const joined = agoTensors(bank);
  assert.equal(joined.size, delta.modules.length);
  const [name, entry] = [...bank][0]!;
  assert.deepEqual(joined.get(name)!.shape, [entry.dOut, 12]);
  disposeAgoTensors(joined);
  assert.equal(tf.memory().numTensors, before);
});
