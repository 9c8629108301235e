import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { needsWebgpu } from "../../tests/backends.ts";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { relativeError } from "../../tests/tolerance.ts";
import { npyToFloat32, npyToInt32, readNpy } from "../io/npy.ts";
import { type ClipArch, linearName } from "./arch.ts";
import { availableBackends, compiledPipelines, useBackend } from "./backend.ts";
import type { LinearApply } from "./linear.ts";
import {
  cloneModel,
  disposeModel,
  embedTokens,
  encodeImage,
  encodeText,
  endTokenLength,
  getLinear,
  setLinearWeight,
  textTokens,
} from "./model.ts";
import { loadArchPreset } from "./presets.ts";
import { randomClipModel } from "./synthetic.ts";
import { loadClipModel } from "./weights.ts";
import { WEIGHT_LAYOUTS } from "./weights_header.ts";

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
        const cut = textTokens(npyToInt32(tokensNpy, "tokens"), 20);
        const image = await values(encodeImage(model, pixels));
        const text = await values(encodeText(model, tokens));
        const cutText = await values(encodeText(model, cut));
        assert.equal(image.length, 5 * 48);
        assert.equal(text.length, 4 * 48);
        const imageError = relativeError(image, expectedImage);
        const textError = relativeError(text, expectedText);
        const cutError = relativeError(cutText, expectedText);
        assert.ok(imageError <= 1e-4, `${backend}/${layout} image error ${imageError}`);
        assert.ok(textError <= 1e-4, `${backend}/${layout} text error ${textError}`);
        assert.ok(cutError <= 1e-4, `${backend}/${layout} cut text error ${cutError}`);
        tf.dispose([pixels, tokens, cut]);
        disposeModel(model);
      }
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    }
    await useBackend("cpu");
  },
);

/** ViT-B/16's text context (77) on the tiny CLIP; start 498, end 499 (the highest id). */
const TINY_77: ClipArch = (() => {
  const tiny = loadArchPreset("clip-tiny");
  return { ...tiny, name: "clip-tiny-77", text: { ...tiny.text, contextLength: 77 } };
})();

/** Rows of start, words, end, zero padding, whose end tokens sit at `ends`: [rows, 77]. */
function promptIds(ends: number[]): Int32Array {
  const ids = new Int32Array(ends.length * 77);
  ends.forEach((end, row) => {
    ids[row * 77] = 498;
    for (let i = 1; i < end; i++) ids[row * 77 + i] = 1 + ((row * 37 + i * 11) % 490);
    ids[row * 77 + end] = 499;
  });
  return ids;
}

Deno.test("endTokenLength() is one past the batch's last end token (argmax, first on ties); textTokens() keeps those columns", async () => {
  await useBackend("cpu");
  assert.equal(endTokenLength(promptIds([4, 14, 9]), 77), 15);
  assert.equal(endTokenLength(promptIds([76]), 77), 77);
  // A row whose highest id appears twice pools at the first, as argmax does.
  const repeated = promptIds([6]);
  repeated[40] = 499;
  assert.equal(endTokenLength(repeated, 77), 7);
  assert.equal(endTokenLength(new Int32Array(2 * 77), 77), 1); // all zeros: argmax 0
  assert.throws(() => endTokenLength(new Int32Array(80), 77), /80 token ids .* rows of 77/);
  const ids = promptIds([3, 5]);
  const cut = textTokens(ids, 77);
  assert.deepEqual(cut.shape, [2, 6]);
  assert.deepEqual([...await cut.data()], [...ids.slice(0, 6), ...ids.slice(77, 83)]);
  cut.dispose();
});

Deno.test("encodeText() on tokens cut at the end token equals the full 77-token context within 1e-5, every backend", async () => {
  const ends = [4, 14, 9, 6];
  const ids = promptIds(ends);
  for (const backend of await availableBackends()) {
    await useBackend(backend);
    const model = randomClipModel(TINY_77, { seed: 7 });
    const before = tf.memory().numTensors;
    const full = tf.tensor2d(ids, [ends.length, 77], "int32");
    const cut = textTokens(ids, 77);
    assert.deepEqual(cut.shape, [4, 15]);
    const expected = await values(encodeText(model, full));
    const actual = await values(encodeText(model, cut));
    const error = relativeError(actual, expected);
    assert.ok(error <= 1e-5, `${backend}: relative error ${error}`);
    // Checkpointing only changes the backward pass.
    const checkpointed = await values(encodeText(model, cut, { checkpoint: true }));
    assert.ok(relativeError(checkpointed, expected) <= 1e-5, `${backend} checkpointed`);
    tf.dispose([full, cut]);
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    disposeModel(model);
  }
  await useBackend("cpu");
});

Deno.test(
  "webgpu: text lengths 5..20 compile a bounded set of pipelines, and nothing when seen again",
  needsWebgpu(),
  async () => {
    await useBackend("webgpu");
    const model = randomClipModel(TINY_77, { seed: 7 });
    const encodeLengths = async () => {
      for (let end = 4; end < 20; end++) {
        const tokens = textTokens(promptIds([end, 2]), 77); // [2, end + 1]
        await values(encodeText(model, tokens));
        tokens.dispose();
      }
    };
    await values(encodeText(model, textTokens(promptIds([3]), 77))); // every kernel once
    const first = compiledPipelines()!;
    await encodeLengths();
    const added = compiledPipelines()! - first;
    await encodeLengths();
    assert.equal(compiledPipelines(), first + added, "lengths seen before compile nothing");
    // Sizes travel as uniforms; only a tile or vec4 fit can change with the length.
    assert.ok(added <= 10, `${added} pipelines for 16 new lengths`);
    disposeModel(model);
    await useBackend("cpu");
  },
);

Deno.test("encodeText() rejects tokens longer than the context or not int32", async () => {
  await useBackend("cpu");
  const model = randomClipModel(loadArchPreset("clip-tiny"), { seed: 1 });
  const long = tf.zeros([1, 21], "int32") as tf.Tensor2D;
  const floats = tf.zeros([1, 20]) as tf.Tensor2D;
  assert.throws(
    () => encodeText(model, long),
    /\[1, 21\] int32, expected int32 \[N, L\] with 1 <= L <= 20/,
  );
  assert.throws(() => encodeText(model, floats), /float32, expected int32/);
  tf.dispose([long, floats]);
  disposeModel(model);
});

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

Deno.test("embedTokens() gathers rows, and its gradient sums dy per token id as gather's does, on every backend", async () => {
  const tokens = [[3, 1, 3, 0], [2, 3, 1, 1]];
  const weights = Array.from({ length: 2 * 4 * 3 }, (_, i) => (i % 5) - 2 + i / 10);
  const gradientOf = (lookup: (table: tf.Tensor2D, ids: tf.Tensor2D) => tf.Tensor) => {
    const table = tf.tensor2d(Array.from({ length: 5 * 3 }, (_, i) => i / 7), [5, 3]);
    const ids = tf.tensor2d(tokens, [2, 4], "int32");
    const w = tf.tensor3d(weights, [2, 4, 3]);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lookup(t as tf.Tensor2D, ids), w)));
    const rows = lookup(table, ids);
    const result = [grad(table), rows];
    tf.dispose([table, ids, w]);
    return result;
  };
  await useBackend("cpu");
  const [expectedGrad, expectedRows] = gradientOf((t, ids) => tf.gather(t, ids));
  const expected = [await values(expectedGrad!), await values(expectedRows!)];
  for (const backend of await availableBackends()) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const [grad, rows] = gradientOf(embedTokens);
    assert.deepEqual([...await values(grad!)], [...expected[0]!], backend);
    assert.deepEqual([...await values(rows!)], [...expected[1]!], backend);
    assert.equal(tf.memory().numTensors, before, backend);
  }
  // Token 4 never occurs: its row gets no gradient.
  assert.deepEqual([...expected[0]!.slice(12)], [0, 0, 0]);
});
