import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { relativeError } from "../../tests/tolerance.ts";
import { LINEAR_TARGETS, linearName, linearShape } from "../clip/arch.ts";
import { useBackend } from "../clip/backend.ts";
import { type ClipEncoder, openEncoder } from "../clip/encoder.ts";
import { disposeModel } from "../clip/model.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { writeSyntheticClip } from "../clip/synthetic.ts";
import { loadClipModel } from "../clip/weights.ts";
import { WEIGHT_LAYOUTS } from "../clip/weights_header.ts";
import { SeededRng } from "../io/rng.ts";
import { applyTaskDelta, type ModuleDelta, type TaskDelta } from "./delta.ts";

const TINY = loadArchPreset("clip-tiny");

/** A task delta on every linear of block 1 of both towers: 4 random rank-1 experts each. */
function randomDelta(seed: number): TaskDelta {
  const rng = new SeededRng(seed);
  const random = (count: number) =>
    Float32Array.from({ length: count }, () => rng.uniform(-0.5, 0.5));
  const modules: ModuleDelta[] = [];
  for (const encoder of ["vision", "text"] as const) {
    for (const target of LINEAR_TARGETS) {
      const [dIn, dOut] = linearShape(TINY, encoder, target);
      modules.push({
        name: linearName(encoder, 1, target),
        dIn,
        dOut,
        experts: [0, 3, 5, 7],
        down: random(dIn * 4),
        up: random(4 * dOut),
        counts: new Float64Array(12),
        agoRows: new Float32Array(0),
        router: null,
      });
    }
  }
  return { task: "DTD", method: "expert-pool", rank: 12, scale: 1, modules, dense: [] };
}

const PIXELS = Float32Array.from({ length: 3 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
const TOKENS = Int32Array.from([
  ...[498, 17, 230, 499, ...Array(16).fill(0)],
  ...[498, 301, 5, 77, 12, 499, ...Array(14).fill(0)],
]);

async function encodings(encoder: ClipEncoder): Promise<[Float32Array, Float32Array]> {
  return [await encoder.encodeImages(PIXELS), await encoder.encodeTexts(TOKENS)];
}

Deno.test("a model with merged task deltas encodes the same on ONNX Runtime as on TF.js, both layouts", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    for (const layout of WEIGHT_LAYOUTS) {
      await writeSyntheticClip(`${dir}/${layout}`, TINY, { layout, seed: 5 });
      const { model } = await loadClipModel(`${dir}/${layout}`);
      const before = tf.memory().numTensors;
      const base = await openEncoder(model, {
        engine: "onnx",
        device: "cpu",
        prepare: ["vision", "text"],
      });
      applyTaskDelta(model, randomDelta(1));
      applyTaskDelta(model, randomDelta(2));
      const onnx = await openEncoder(model, { engine: "onnx", device: "cpu" });
      const tfjs = await openEncoder(model, { engine: "tfjs" });
      const [baseImage, baseText] = await encodings(base);
      const [image, text] = await encodings(onnx);
      const [tfjsImage, tfjsText] = await encodings(tfjs);
      // The deltas matter (else the comparison says nothing) ...
      assert.ok(relativeError(baseImage, tfjsImage) > 1e-2, `${layout}: image unchanged`);
      assert.ok(relativeError(baseText, tfjsText) > 1e-2, `${layout}: text unchanged`);
      // ... and both engines merge them alike.
      assert.ok(relativeError(image, tfjsImage) <= 1e-4, `${layout}: image`);
      assert.ok(relativeError(text, tfjsText) <= 1e-4, `${layout}: text`);
      for (const encoder of [base, onnx, tfjs]) await encoder.dispose();
      assert.equal(tf.memory().numTensors, before, "the encoders leaked tensors");
      disposeModel(model);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
