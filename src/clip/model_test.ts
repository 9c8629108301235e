import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { relativeError } from "../../tests/tolerance.ts";
import { npyToFloat32, npyToInt32, readNpy } from "../io/npy.ts";
import { linearName } from "./arch.ts";
import { availableBackends, useBackend } from "./backend.ts";
import type { LinearApply } from "./linear.ts";
import {
  cloneModel,
  disposeModel,
  encodeImage,
  encodeText,
  getLinear,
  setLinearWeight,
} from "./model.ts";
import { loadArchPreset } from "./presets.ts";
import { randomClipModel } from "./synthetic.ts";
import { loadClipModel, WEIGHT_LAYOUTS } from "./weights.ts";

const FIXTURE = "fixtures/clip-tiny";

/** Reads and disposes: WebGPU has no synchronous reads. */
async function values(tensor: tf.Tensor): Promise<Float32Array> {
  const data = await tensor.data<"float32">();
  tensor.dispose();
  return data;
}

Deno.test(
  "encodeImage/encodeText match OpenAI's outputs on clip-tiny within 1e-4, both layouts, every backend",
  needsShared(FIXTURE),
  async () => {
    const root = sharedPath(FIXTURE)!;
    const pixelsNpy = await readNpy(`${root}/pixels.npy`);
    const tokensNpy = await readNpy(`${root}/tokens.npy`);
    const expectedImage = npyToFloat32(await readNpy(`${root}/image_embeds.npy`), "image_embeds");
    const expectedText = npyToFloat32(await readNpy(`${root}/text_embeds.npy`), "text_embeds");
    for (const backend of await availableBackends()) {
      await useBackend(backend);
      const before = tf.memory().numTensors;
      for (const layout of WEIGHT_LAYOUTS) {
        const { model, info } = await loadClipModel(`${root}/${layout}`);
        assert.equal(info.layout, layout);
        assert.equal(info.arch.name, "clip-tiny");
        const pixels = tf.tensor4d(npyToFloat32(pixelsNpy, "pixels"), [5, 3, 32, 32]);
        const tokens = tf.tensor2d(npyToInt32(tokensNpy, "tokens"), [4, 20], "int32");
        const image = await values(encodeImage(model, pixels));
        const text = await values(encodeText(model, tokens));
        assert.equal(image.length, 5 * 48);
        assert.equal(text.length, 4 * 48);
        const imageError = relativeError(image, expectedImage);
        const textError = relativeError(text, expectedText);
        assert.ok(imageError <= 1e-4, `${backend}/${layout} image error ${imageError}`);
        assert.ok(textError <= 1e-4, `${backend}/${layout} text error ${textError}`);
        tf.dispose([pixels, tokens]);
        disposeModel(model);
      }
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    }
    await useBackend("cpu");
  },
);

Deno.test("repeated encode calls do not grow tf.memory().numTensors", async () => {
  await useBackend("cpu");
  const model = randomClipModel(loadArchPreset("clip-tiny"), { seed: 1 });
  const pixels = tf.randomNormal([2, 3, 32, 32]) as tf.Tensor4D;
  const tokens = tf.tensor2d([[498, 5, 499, ...Array(17).fill(0)]], [1, 20], "int32");
  tf.dispose([encodeImage(model, pixels), encodeText(model, tokens)]); // warm up
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose([encodeImage(model, pixels), encodeText(model, tokens)]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([pixels, tokens]);
  disposeModel(model);
});

Deno.test("the linear hook sees the 6 linears of every block and gradients reach adapter variables", async () => {
  await useBackend("cpu");
  const arch = loadArchPreset("clip-tiny");
  const model = randomClipModel(arch, { seed: 2 });
  const pixels = tf.randomNormal([2, 3, 32, 32], 0, 1, "float32", 3) as tf.Tensor4D;
  const target = linearName("vision", 1, "v");
  // A rank-1 delta on one layer: y = xW + b + (x·a) bᵀ, with a, b trainable.
  const a = tf.variable(tf.randomNormal([128, 1], 0, 0.1, "float32", 4));
  const b = tf.variable(tf.zeros([1, 128]));
  const seen = new Set<string>();
  const hooked: LinearApply = (layer, x) => {
    seen.add(layer.name);
    const [batch, tokens, dIn] = x.shape;
    let y = x.reshape([batch * tokens, dIn]).matMul(layer.weight).add(layer.bias);
    if (layer.name === target) y = y.add(x.reshape([batch * tokens, dIn]).matMul(a).matMul(b));
    return y.reshape([batch, tokens, layer.weight.shape[1]]) as tf.Tensor3D;
  };
  const plain = await values(encodeImage(model, pixels));
  const withZeroDelta = await values(encodeImage(model, pixels, { linear: hooked }));
  assert.ok(relativeError(withZeroDelta, plain) < 1e-6, "B = 0 leaves the output unchanged");
  assert.equal(seen.size, arch.vision.layers * 6);
  const { grads, value } = tf.variableGrads(
    () => encodeImage(model, pixels, { linear: hooked }).square().sum() as tf.Scalar,
    [a, b],
  );
  const gradB = await values(grads[b.name]!);
  assert.ok(gradB.some((g) => Math.abs(g) > 1e-6), "gradient w.r.t. B is non-zero");
  assert.ok(gradB.every(Number.isFinite));
  // Zero B: d/dA vanishes exactly, as for LoRA at initialisation.
  assert.ok((await values(grads[a.name]!)).every((g) => g === 0));
  tf.dispose([value, pixels, a, b]);
  disposeModel(model);
});

Deno.test("setLinearWeight() changes only the edited model; cloneModel() copies", async () => {
  await useBackend("cpu");
  const arch = loadArchPreset("clip-tiny");
  const model = randomClipModel(arch, { seed: 5 });
  const copy = cloneModel(model);
  const tokens = tf.tensor2d([[498, 7, 8, 499, ...Array(16).fill(0)]], [1, 20], "int32");
  const name = linearName("text", 0, "fc");
  const layer = getLinear(model, name);
  assert.deepEqual(layer.weight.shape, [64, 256]);
  const original = await values(encodeText(model, tokens));
  setLinearWeight(model, name, tf.tidy(() => layer.weight.mul(2)) as tf.Tensor2D);
  const edited = await values(encodeText(model, tokens));
  const cloned = await values(encodeText(copy, tokens));
  assert.ok(relativeError(edited, original) > 1e-3, "doubling the weight changes the output");
  assert.ok(relativeError(cloned, original) < 1e-7, "the clone keeps the old weight");
  const wrong = tf.zeros([3, 3]) as tf.Tensor2D;
  assert.throws(
    () => setLinearWeight(model, name, wrong),
    /has shape \[3, 3\], expected \[64, 256\]/,
  );
  wrong.dispose();
  assert.throws(() => getLinear(model, "text.blocks.9.mlp.fc"), /No linear layer/);
  const before = tf.memory().numTensors;
  disposeModel(copy);
  disposeModel(model);
  tokens.dispose();
  assert.ok(tf.memory().numTensors < before - 100);
});
