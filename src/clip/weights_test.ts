import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { useBackend } from "./backend.ts";
import {
  canonicalParameters,
  disposeModel,
  encodeImage,
  encodeText,
  parameterShapes,
} from "./model.ts";
import { loadArchPreset } from "./presets.ts";
import { writeSyntheticClip } from "./synthetic.ts";
import { loadClipModel, writeClipWeights } from "./weights.ts";
import { inspectWeights, WEIGHT_LAYOUTS } from "./weights_header.ts";

const TINY = loadArchPreset("clip-tiny");

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Rewrites a safetensors file's JSON header in place of the original (data bytes kept). */
async function editHeader(path: string, edit: (header: Record<string, unknown>) => void) {
  const bytes = await Deno.readFile(path);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + length), 8 + json.byteLength);
  await Deno.writeFile(path, out);
}

async function expectUserError(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadClipModel(path), (error: unknown) => {
    assert.ok(error instanceof UserError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("a synthetic model loads in both layouts and both give identical embeddings", async () => {
  await useBackend("cpu");
  await withTempDir(async (dir) => {
    const pixels = tf.randomNormal([2, 3, 32, 32], 0, 1, "float32", 7) as tf.Tensor4D;
    const tokens = tf.tensor2d([[498, 3, 4, 499, ...Array(16).fill(0)]], [1, 20], "int32");
    const outputs: Float32Array[][] = [];
    for (const layout of WEIGHT_LAYOUTS) {
      await writeSyntheticClip(`${dir}/${layout}`, TINY, { layout, seed: 11 });
      const info = await inspectWeights(`${dir}/${layout}`);
      assert.equal(info.layout, layout);
      assert.deepEqual(info.arch, TINY);
      const { model } = await loadClipModel(`${dir}/${layout}`);
      const image = encodeImage(model, pixels);
      const text = encodeText(model, tokens);
      outputs.push([await image.data<"float32">(), await text.data<"float32">()]);
      tf.dispose([image, text]);
      disposeModel(model);
    }
    const [openai, hf] = outputs as [Float32Array[], Float32Array[]];
    assert.deepEqual(openai[0], hf[0]);
    assert.deepEqual(openai[1], hf[1]);
    // Not degenerate: the two images get different, non-zero features.
    assert.ok(openai[0]!.some((value, i) => Math.abs(value - openai[0]![i + 48]!) > 1e-3));
    tf.dispose([pixels, tokens]);
  });
});

Deno.test("writeSyntheticClip() is deterministic from its seed and sets the vocabulary size", async () => {
  await withTempDir(async (dir) => {
    await writeSyntheticClip(`${dir}/a`, TINY, { layout: "openai", seed: 3, vocabSize: 49408 });
    await writeSyntheticClip(`${dir}/b`, TINY, { layout: "openai", seed: 3, vocabSize: 49408 });
    await writeSyntheticClip(`${dir}/c`, TINY, { layout: "openai", seed: 4, vocabSize: 49408 });
    const [a, b, c] = await Promise.all(
      ["a", "b", "c"].map((x) => Deno.readFile(`${dir}/${x}/model.safetensors`)),
    );
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal((await inspectWeights(`${dir}/a`)).arch.text.vocabSize, 49408);
  });
});

Deno.test("loadClipModel() errors name the file, the tensor and the expected shape", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  await withTempDir(async (dir) => {
    const model = `${dir}/m`;
    const file = `${model}/model.safetensors`;
    await writeSyntheticClip(model, TINY, { layout: "openai", seed: 1 });
    const original = await Deno.readFile(file);
    const tensors = await readSafetensors(file);

    const missing = new Map(tensors);
    missing.delete("transformer.resblocks.1.mlp.c_proj.bias");
    await writeSafetensors(file, missing);
    await expectUserError(
      model,
      /Cannot load .*\/m\/model\.safetensors: tensor "transformer\.resblocks\.1\.mlp\.c_proj\.bias" is missing \(expected shape \[64\]\)/,
    );

    const wrongShape = new Map(tensors);
    wrongShape.set("visual.proj", { shape: [8, 4], data: new Float32Array(32) });
    await writeSafetensors(file, wrongShape);
    await expectUserError(
      model,
      /model\.safetensors: tensor "visual\.proj" has shape \[8, 4\], expected \[128, 48\]/,
    );

    await Deno.writeFile(file, new TextEncoder().encode("<html>not weights</html>"));
    await expectUserError(model, /model\.safetensors: not a safetensors file/);

    await Deno.writeFile(file, original.subarray(0, original.byteLength - 100));
    await expectUserError(
      model,
      /model\.safetensors: tensor "[^"]+": data ends at byte \d+ but the file has/,
    );

    await Deno.writeFile(file, original);
    await editHeader(file, (header) => {
      (header["visual.ln_pre.bias"] as { dtype: string }).dtype = "Q4";
    });
    await expectUserError(
      model,
      /model\.safetensors: tensor "visual\.ln_pre\.bias" has unknown dtype "Q4"/,
    );

    await Deno.writeFile(file, original);
    await editHeader(file, (header) => {
      (header["visual.ln_pre.bias"] as { dtype: string }).dtype = "I32";
    });
    await expectUserError(
      model,
      /tensor "visual\.ln_pre\.bias" has dtype I32, expected one of F32/,
    );

    await writeSafetensors(file, { "encoder.weight": { shape: [1], data: new Float32Array(1) } });
    await expectUserError(model, /not a CLIP checkpoint/);

    await expectUserError(`${dir}/absent`, /Cannot load model .*absent/);
    await Deno.remove(file);
    await expectUserError(model, /no \.safetensors file in the folder/);
  });
  assert.equal(tf.memory().numTensors, before, "failed loads leave no tensors behind");
});

Deno.test("canonicalParameters() gives back what buildModel took; writeClipWeights() of them rewrites the same files", async () => {
  await useBackend("cpu");
  await withTempDir(async (dir) => {
    for (const layout of WEIGHT_LAYOUTS) {
      await writeSyntheticClip(`${dir}/${layout}`, TINY, { layout, seed: 3 });
      const { model } = await loadClipModel(`${dir}/${layout}`);
      const before = tf.memory().numTensors;
      const params = await canonicalParameters(model);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual([...params.keys()], [...parameterShapes(TINY).keys()]);
      await writeClipWeights(`${dir}/again-${layout}`, TINY, params, { layout });
      for (
        const file of layout === "hf" ? ["model.safetensors", "config.json"] : ["model.safetensors"]
      ) {
        assert.deepEqual(
          await Deno.readFile(`${dir}/again-${layout}/${file}`),
          await Deno.readFile(`${dir}/${layout}/${file}`),
          `${layout}/${file}`,
        );
      }
      disposeModel(model);
    }
  });
});
