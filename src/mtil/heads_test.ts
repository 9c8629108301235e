import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { encodeText } from "../clip/model.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { randomClipModel } from "../clip/synthetic.ts";
import { writeByteLevelTokenizer } from "../clip/bpe_train.ts";
import type { ClipTokenizer } from "../clip/tokenizer.ts";
import { disposeModel } from "../clip/model.ts";
import { useBackend } from "../clip/backend.ts";
import { openEncoder } from "../clip/encoder.ts";
import { fillTemplate, normalizeRows, zeroShotHead } from "./heads.ts";

async function tinyClip() {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "rankone-heads-" });
  let tokenizer: ClipTokenizer;
  try {
    tokenizer = await writeByteLevelTokenizer(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const preset = loadArchPreset("clip-tiny");
  // The byte-level vocabulary (514 ids) is larger than the preset's 500.
  const arch = { ...preset, text: { ...preset.text, vocabSize: tokenizer.vocabSize } };
  return { model: randomClipModel(arch, { seed: 3 }), tokenizer };
}

Deno.test("fillTemplate puts the class name at every {}", () => {
  assert.equal(fillTemplate("a photo of a {}.", "banded"), "a photo of a banded.");
  assert.equal(fillTemplate("{} or {}?", "cat"), "cat or cat?");
  assert.equal(fillTemplate("no slot", "cat"), "no slot");
});

Deno.test("normalizeRows scales each row to unit length and leaves zero rows at zero", () => {
  const rows = normalizeRows(Float32Array.from([3, 4, 0, 0, 0, 0, 1, 0, 0]), 3);
  assert.deepEqual([...rows], [0.6, 0.8, 0, 0, 0, 0, 1, 0, 0].map(Math.fround));
});

Deno.test("zeroShotHead of a tiny CLIP equals per-class normalise-mean-renormalise, with flat memory", async () => {
  const { model, tokenizer } = await tinyClip();
  try {
    const classNames = ["cat", "dog", "striped sea"];
    const templates = ["{}", "a {}.", "the {}!"];
    // Direct: each class on its own, the ZSCL recipe in tensor ops.
    const direct = tf.tidy(() => {
      const rows = classNames.map((name) => {
        const texts = templates.map((template) => fillTemplate(template, name));
        const ids = tokenizer.tokenize(texts, { contextLength: model.arch.text.contextLength });
        const tokens = tf.tensor2d(ids, [texts.length, model.arch.text.contextLength], "int32");
        const features = encodeText(model, tokens);
        const mean = features.div(features.norm("euclidean", 1, true)).mean(0);
        return mean.div(mean.norm());
      });
      return tf.stack(rows).dataSync() as Float32Array;
    });

    const before = tf.memory().numTensors;
    // Batches of 4 over 9 texts: batches straddle class boundaries.
    const head = await zeroShotHead(model, tokenizer, { classNames, templates, batchSize: 4 });
    assert.equal(tf.memory().numTensors, before);
    const dim = model.arch.embedDim;
    assert.equal(head.length, classNames.length * dim);
    for (let i = 0; i < head.length; i++) {
      assert.ok(Math.abs(head[i]! - direct[i]!) < 1e-5, `value ${i}: ${head[i]} vs ${direct[i]}`);
    }
    for (let c = 0; c < classNames.length; c++) {
      const row = head.subarray(c * dim, (c + 1) * dim);
      const norm = Math.sqrt(row.reduce((sum, x) => sum + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-6, `row ${c} has norm ${norm}`);
    }
    // The batch size changes nothing but speed.
    const oneBatch = await zeroShotHead(model, tokenizer, { classNames, templates, batchSize: 64 });
    for (let i = 0; i < head.length; i++) assert.ok(Math.abs(head[i]! - oneBatch[i]!) < 1e-6);
  } finally {
    disposeModel(model);
  }
});

Deno.test("zeroShotHead on ONNX Runtime equals the TF.js head within 1e-5", async () => {
  const { model, tokenizer } = await tinyClip();
  try {
    const options = { classNames: ["cat", "dog", "striped sea"], templates: ["{}", "a {}."] };
    const tfjsHead = await zeroShotHead(model, tokenizer, options);
    const onnx = await openEncoder(model, { engine: "onnx" });
    try {
      const onnxHead = await zeroShotHead(onnx, tokenizer, { ...options, batchSize: 3 });
      const worst = Math.max(...onnxHead.map((value, i) => Math.abs(value - tfjsHead[i]!)));
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
    } finally {
      await onnx.dispose();
    }
  } finally {
    disposeModel(model);
  }
});

Deno.test("zeroShotHead rejects empty class or template lists and bad batch sizes", async () => {
  const { model, tokenizer } = await tinyClip();
  try {
    await assert.rejects(
      () => zeroShotHead(model, tokenizer, { classNames: [], templates: ["{}"] }),
      UserError,
    );
    await assert.rejects(
      () => zeroShotHead(model, tokenizer, { classNames: ["a"], templates: ["{}"], batchSize: 0 }),
      /batch size must be a positive integer, got 0/,
    );
  } finally {
    disposeModel(model);
  }
});
