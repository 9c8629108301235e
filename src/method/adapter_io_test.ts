import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { disposeModel } from "../clip/model.ts";
import { UserError } from "../errors.ts";
import { writeNpy } from "../io/npy.ts";
import { SeededRng } from "../io/rng.ts";
import {
  MICRO_ARCH,
  microFewShotSet,
  microModel,
  microTrainOptions,
} from "../../tests/micro_clip.ts";
import { loadMethodConfig, type MethodConfig } from "./config.ts";
import { adapterValuesOf, readAdapterFolder, writeAdapterFolder } from "./adapter_io.ts";
import {
  type AdapterValues,
  createAdapterPool,
  disposeAdapterPool,
  type InitialAdapters,
} from "./pool.ts";
import { trainTask } from "./train.ts";

await useBackend("cpu");

/** The values `trainTask` draws for `seed` (its first fork), in the release's layouts. */
async function valuesDrawnFor(
  method: MethodConfig,
  seed: number,
): Promise<Map<string, AdapterValues>> {
  const pool = createAdapterPool(MICRO_ARCH, method, { rng: new SeededRng(seed).fork() });
  const values = await adapterValuesOf(pool);
  disposeAdapterPool(pool);
  return values;
}

/** Rejects with a UserError whose message matches `pattern`. */
async function rejectsWith(run: () => unknown, pattern: RegExp): Promise<void> {
  await assert.rejects(async () => await run(), (error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("a warm-started pool holds the given values: lora_A [r, d_in] is down transposed, lora_B [d_out, r] is up transposed", async () => {
  const before = tf.memory().numTensors;
  const method = loadMethodConfig("expert-pool");
  const values = await valuesDrawnFor(method, 5);
  const q = values.get("visual.blocks.0.attn.q")!;
  q.loraB = { shape: [16, 12], data: Float32Array.from({ length: 16 * 12 }, (_, i) => i) };
  const pool = createAdapterPool(MICRO_ARCH, method, {
    rng: new SeededRng(99), // not drawn from
    initial: { source: "test", modules: values },
  });
  const adapter = pool.adapters.get("visual.blocks.0.attn.q")!;
  // up [r 12, d_out 16]: up[j][o] = lora_B[o][j] = o·12 + j.
  const up = await adapter.up.data();
  assert.equal(up[1 * 16 + 2], 2 * 12 + 1);
  assert.equal(up[11 * 16 + 15], 15 * 12 + 11);
  // down [d_in 16, r 12]: down[i][j] = lora_A[j][i].
  const down = await adapter.down.data();
  assert.equal(down[3 * 12 + 7], q.loraA.data[7 * 16 + 3]);
  assert.deepEqual([...await adapter.routerBias!.data()], [...q.routerBias!.data]);
  assert.deepEqual(await adapterValuesOf(pool), values);
  disposeAdapterPool(pool);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("trainTask() warm-started from a folder of the values seed 7 draws trains exactly as seed 7 does", async () => {
  const folder = await Deno.makeTempDir({ prefix: "rankone-adapters-" });
  try {
    const model = microModel(1);
    const data = microFewShotSet();
    const method = loadMethodConfig("expert-pool");
    await writeAdapterFolder(folder, await valuesDrawnFor(method, 7));
    const options = microTrainOptions(method, { steps: 3, seed: 7 });
    const drawn = await trainTask(model, data, options);
    const initialAdapters = await readAdapterFolder(folder);
    assert.equal(initialAdapters.modules.size, 12);
    const warm = await trainTask(model, data, { ...options, initialAdapters });
    assert.deepEqual(warm.losses, drawn.losses);
    assert.deepEqual(warm.delta, drawn.delta);
    // Another seed's values change the run: the folder is what it starts from.
    const other = await readAdapterFolder(folder);
    other.modules.get("text.blocks.0.attn.v")!.loraA.data.fill(0.25);
    const changed = await trainTask(model, data, { ...options, initialAdapters: other });
    assert.notDeepEqual(changed.losses, drawn.losses);
    disposeModel(model);
    data.pixels.dispose();
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("bad starting values are UserErrors naming the module and tensor", async () => {
  const before = tf.memory().numTensors;
  const method = loadMethodConfig("expert-pool");
  const values = await valuesDrawnFor(method, 5);
  const start = (modules: Map<string, AdapterValues>, config = method) =>
    createAdapterPool(MICRO_ARCH, config, {
      rng: new SeededRng(1),
      initial: { source: "ckpt/", modules },
    });
  const without = new Map(values);
  without.delete("text.blocks.0.mlp.fc");
  await rejectsWith(() => start(without), /ckpt\/: no starting values for "text.blocks.0.mlp.fc"/);
  const extra = new Map(values).set("text.blocks.5.attn.q", values.get("text.blocks.0.attn.q")!);
  await rejectsWith(() => start(extra), /values for "text.blocks.5.attn.q", which method/);
  const wrong = new Map(values);
  wrong.set("visual.blocks.0.mlp.proj", {
    ...values.get("visual.blocks.0.mlp.proj")!,
    loraA: { shape: [12, 16], data: new Float32Array(12 * 16) },
  });
  await rejectsWith(
    () => start(wrong),
    /ckpt\/: visual.blocks.0.mlp.proj.lora_A is \[12, 16\], expected \[12, 32\]/,
  );
  await rejectsWith(
    () => start(values, loadMethodConfig("lora")),
    /text.blocks.0.attn.q.router_w is given, but method lora has no router/,
  );
  const model = microModel(1);
  const data = microFewShotSet();
  const initialAdapters: InitialAdapters = { source: "ckpt/", modules: values };
  await rejectsWith(
    () =>
      trainTask(model, data, {
        ...microTrainOptions(loadMethodConfig("full-finetune")),
        initialAdapters,
      }),
    /method full-finetune has no adapters to start from ckpt\//,
  );
  disposeModel(model);
  data.pixels.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("readAdapterFolder() names the folder and file of what is missing or misnamed", async () => {
  const folder = await Deno.makeTempDir({ prefix: "rankone-adapters-" });
  try {
    await rejectsWith(() => readAdapterFolder(`${folder}/absent`), /Cannot read adapter folder/);
    await rejectsWith(() => readAdapterFolder(folder), /no adapter tensors/);
    const matrix = { dtype: "float32" as const, shape: [2, 3], data: new Float32Array(6) };
    await writeNpy(`${folder}/text.blocks.0.attn.q.lora_A.npy`, matrix);
    await rejectsWith(
      () => readAdapterFolder(folder),
      new RegExp(`${folder}/text.blocks.0.attn.q.lora_B.npy is missing`),
    );
    await writeNpy(`${folder}/text.blocks.0.attn.q.lora_B.npy`, matrix);
    await writeNpy(`${folder}/text.blocks.0.attn.q.router_b.npy`, matrix);
    await rejectsWith(() => readAdapterFolder(folder), /attn.q.router_w.npy is missing/);
    await Deno.remove(`${folder}/text.blocks.0.attn.q.router_b.npy`);
    await Deno.writeTextFile(`${folder}/README.md`, "ignored");
    assert.deepEqual([...(await readAdapterFolder(folder)).modules.keys()], [
      "text.blocks.0.attn.q",
    ]);
    await writeNpy(`${folder}/text.blocks.0.attn.q.lora_C.npy`, matrix);
    await rejectsWith(() => readAdapterFolder(folder), /lora_C.npy: not an adapter tensor/);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
