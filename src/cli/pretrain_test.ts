import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { disposeModel, encodeImage } from "../clip/model.ts";
import { loadClipModel } from "../clip/weights.ts";
import { sha256Hex } from "../cache/digest.ts";
import { cli, withSandbox } from "../../tests/cli_sandbox.ts";
import { DEFAULT_OUT, DEFAULT_RECIPE, PRETRAIN_BACKEND, runPretraining } from "./pretrain.ts";

const SHIPPED = fileURLToPath(new URL(`../../${DEFAULT_OUT}/`, import.meta.url));

Deno.test("`deno task pretrain --first 3` reproduces the first three losses recorded with the shipped model", async () => {
  const record = JSON.parse(await Deno.readTextFile(`${SHIPPED}/pretrain.json`));
  assert.equal(record.backend, PRETRAIN_BACKEND);
  assert.deepEqual(record.recipe, DEFAULT_RECIPE, "the shipped model was made by today's recipe");
  await withSandbox(async (box) => {
    const run = await cli(box, ["pretrain", "--first", "3", "--quiet"]);
    assert.equal(run.code, 0, run.stderr);
    const { backend, losses } = JSON.parse(run.stdout);
    assert.equal(backend, PRETRAIN_BACKEND);
    assert.deepEqual(losses, record.losses.slice(0, 3));
  }, "rankone-pretrain-");
});

Deno.test("the shipped files are the ones pretrain.json lists, byte for byte", async () => {
  const record = JSON.parse(await Deno.readTextFile(`${SHIPPED}/pretrain.json`));
  assert.deepEqual(Object.keys(record.files).sort(), [
    "hf/config.json",
    "hf/model.safetensors",
    "openai/model.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/vocab.json",
  ]);
  for (const [file, digest] of Object.entries(record.files)) {
    assert.equal(sha256Hex(await Deno.readFile(`${SHIPPED}/${file}`)), digest, file);
  }
});

Deno.test("runPretraining() writes both key layouts of one model, the tokenizer and the record, through a staging folder", async () => {
  await useBackend("wasm");
  const root = await Deno.makeTempDir({ prefix: "rankone-pretrain-out-" });
  try {
    const out = `${root}/model`;
    const recipe = { ...DEFAULT_RECIPE, steps: 2, batchSize: 8, warmup: 1 };
    const run = await runPretraining(recipe, { out });
    assert.equal(run.losses.length, 2);
    assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), ["model"]);
    const record = JSON.parse(await Deno.readTextFile(`${out}/pretrain.json`));
    assert.deepEqual(record.losses, run.losses);
    const pixels = tf.randomUniform([2, 3, 32, 32], -1, 1, "float32", 3) as tf.Tensor4D;
    const features: Float32Array[] = [];
    for (const layout of ["hf", "openai"]) {
      const { model } = await loadClipModel(`${out}/${layout}`);
      const encoded = encodeImage(model, pixels);
      features.push(encoded.dataSync() as Float32Array);
      encoded.dispose();
      disposeModel(model);
    }
    assert.deepEqual(features[0], features[1]);
    pixels.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
