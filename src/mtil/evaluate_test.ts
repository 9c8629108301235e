import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { normalizeUint8 } from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { useBackend } from "../clip/backend.ts";
import { openEncoder } from "../clip/encoder.ts";
import { disposeModel, encodeImage } from "../clip/model.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { randomClipModel } from "../clip/synthetic.ts";
import { evaluate, type Evaluation, scoreFeatures } from "./evaluate.ts";
import { normalizeRows } from "./heads.ts";
import { PreparedSplitReader, writePrepared } from "./image_set.ts";

/** The accuracy of an evaluation, without the record of how it ran. */
function withoutStats(evaluation: Evaluation): Omit<Evaluation, "stats"> {
  const { stats: _stats, ...accuracy } = evaluation;
  return accuracy;
}

Deno.test("scoreFeatures: a hand-made head and features give 3 of 5 right (60%)", async () => {
  await useBackend("cpu");
  // Unit axes as class directions: the prediction is the largest coordinate.
  const head = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const features = Float32Array.from([
    2,
    0.1,
    0, // -> 0, label 0: right
    0,
    1,
    0.5, // -> 1, label 1: right
    0,
    0.4,
    0.3, // -> 1, label 2: wrong
    1,
    1,
    3, // -> 2, label 2: right
    0.9,
    1,
    0, // -> 1, label 0: wrong
  ]);
  const labels = Int32Array.from([0, 1, 2, 2, 0]);
  const before = tf.memory().numTensors;
  const result = await scoreFeatures(features, { labels, head });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(result.top1, 60);
  assert.equal(result.correct, 3);
  assert.equal(result.total, 5);
  assert.deepEqual([...result.perClassCorrect], [1, 1, 1]);
  assert.deepEqual([...result.perClassTotal], [2, 1, 2]);
  assert.deepEqual([...result.predictions], [0, 1, 1, 2, 1]);
});

Deno.test("scoreFeatures: a label outside the head's classes is a UserError", async () => {
  const head = Float32Array.from([1, 0, 0, 1]);
  await assert.rejects(
    () => scoreFeatures(Float32Array.from([1, 0]), { labels: Int32Array.from([2]), head }),
    /label 2 of image 0 is outside the head's 2 classes/,
  );
});

/** `count` random uint8 images [count, size, size, 3]. */
function randomImages(count: number, size: number, seed: number): Uint8Array {
  const rng = new SeededRng(seed);
  return Uint8Array.from({ length: count * size * size * 3 }, () => rng.nextInt(256));
}

Deno.test("evaluate on a tiny CLIP matches scoring directly encoded features, in batches, memory flat", async () => {
  await useBackend("cpu");
  const model = randomClipModel(loadArchPreset("clip-tiny"), { seed: 9 });
  try {
    const size = model.arch.vision.imageSize;
    const dim = model.arch.embedDim;
    const count = 6;
    const images = randomImages(count, size, 1);
    const bytes = size * size * 3;
    const direct = tf.tidy(() => {
      const pixels = new Float32Array(count * bytes);
      for (let i = 0; i < count; i++) {
        pixels.set(normalizeUint8(images.subarray(i * bytes, (i + 1) * bytes), size), i * bytes);
      }
      return encodeImage(model, tf.tensor4d(pixels, [count, 3, size, size])).dataSync();
    }) as Float32Array; // [count, dim]

    // A head made of images 0-2's own unit features: each of them is its own nearest class.
    const head = normalizeRows(direct.slice(0, 3 * dim), dim);
    const firstThree = images.subarray(0, 3 * bytes);
    const before = tf.memory().numTensors;
    const own = await evaluate(model, {
      images: firstThree,
      labels: Int32Array.from([0, 1, 2]),
      head,
      batchSize: 2,
    });
    assert.equal(own.top1, 100);
    const swapped = await evaluate(model, {
      images: firstThree,
      labels: Int32Array.from([0, 2, 1]),
      head,
    });
    assert.equal(swapped.correct, 1);
    assert.ok(Math.abs(swapped.top1 - 100 / 3) < 1e-9);

    // Any head: the same predictions as scoring the directly computed features.
    const rng = new SeededRng(4);
    const randomHead = normalizeRows(
      Float32Array.from({ length: 4 * dim }, () => rng.uniform(-1, 1)),
      dim,
    );
    const labels = Int32Array.from([0, 1, 2, 3, 0, 1]);
    const progress: [number, number][] = [];
    const result = await evaluate(model, {
      images,
      labels,
      head: randomHead,
      batchSize: 4,
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.equal(tf.memory().numTensors, before);
    const expected = await scoreFeatures(direct, { labels, head: randomHead });
    const { stats } = result;
    assert.deepEqual(withoutStats(result), expected);
    assert.deepEqual(progress, [[4, 6], [6, 6]]);
    // How it ran, apart: 2 batches of 4 and 2 images; the rate counts the second batch only.
    assert.ok(stats !== null);
    assert.deepEqual(
      [stats.measuredOn.engine, stats.measuredOn.backend, stats.batchSize, stats.images],
      ["tfjs", "cpu", 4, 6],
    );
    assert.deepEqual([stats.batches, stats.firstBatchImages], [2, 4]);
    const steady = 2 / (stats.seconds - stats.firstBatchSeconds);
    assert.ok(Math.abs(stats.imagesPerSecond! / steady - 1) < 1e-9);
    assert.equal(own.stats?.batches, 2);
    assert.equal(swapped.stats?.imagesPerSecond, null, "one batch: no rate apart from warm-up");
  } finally {
    disposeModel(model);
  }
});

Deno.test("evaluate: wrongly sized images, bad heads and an aborted signal are refused", async () => {
  await useBackend("cpu");
  const model = randomClipModel(loadArchPreset("clip-tiny"), { seed: 2 });
  try {
    const dim = model.arch.embedDim;
    const head = new Float32Array(2 * dim).fill(0.1);
    const before = tf.memory().numTensors;
    await assert.rejects(
      () =>
        evaluate(model, { images: randomImages(2, 16, 1), labels: Int32Array.from([0, 1]), head }),
      /needs \[2, 32, 32, 3\] uint8 \(prepare the split at size 32\)/,
    );
    const images = randomImages(2, 32, 1);
    await assert.rejects(
      () => evaluate(model, { images, labels: Int32Array.from([0, 1]), head: head.subarray(1) }),
      UserError,
    );
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      () =>
        evaluate(model, {
          images,
          labels: Int32Array.from([0, 1]),
          head,
          signal: controller.signal,
        }),
      (error: unknown) => (error as Error).name === "AbortError",
    );
    assert.equal(tf.memory().numTensors, before);
  } finally {
    disposeModel(model);
  }
});

Deno.test("evaluate streams a prepared split from disk with the in-memory result, on TF.js and ONNX Runtime alike", async () => {
  await useBackend("cpu");
  const model = randomClipModel(loadArchPreset("clip-tiny"), { seed: 9 });
  const dir = await Deno.makeTempDir();
  try {
    const count = 11;
    const labels = Int32Array.from({ length: count }, (_, i) => i % 4);
    const images = randomImages(count, 32, 7);
    await writePrepared(dir, {
      dataset: "DTD",
      split: "test",
      size: 32,
      classNames: ["a", "b", "c", "d"],
      images,
      labels,
      sampleIndices: Int32Array.from(labels.keys()),
      paths: [...labels.keys()].map(String),
    });
    const rng = new SeededRng(12);
    const head = normalizeRows(Float32Array.from({ length: 4 * 48 }, () => rng.uniform(-1, 1)), 48);
    const inMemory = await evaluate(model, { images, labels, head, batchSize: 4 });
    const before = tf.memory().numTensors;
    for (const engine of ["tfjs", "onnx"] as const) {
      const encoder = await openEncoder(model, { engine });
      using split = await PreparedSplitReader.open(dir);
      const progress: number[] = [];
      const streamed = await evaluate(encoder, {
        images: split,
        labels: split.labels,
        head,
        batchSize: 4,
        onProgress: (done) => progress.push(done),
      });
      await encoder.dispose();
      const { stats, ...accuracy } = streamed;
      assert.deepEqual(accuracy, withoutStats(inMemory), `${engine}: same predictions and counts`);
      // How it ran, apart: the engine and its device, 3 batches.
      assert.deepEqual(
        [stats?.measuredOn.engine, stats?.measuredOn.backend, stats?.batches],
        [engine, encoder.device, 3],
      );
      assert.deepEqual(progress, [4, 8, 11]);
    }
    assert.equal(tf.memory().numTensors, before);
    // A split prepared at another size is refused before anything is encoded.
    using split = await PreparedSplitReader.open(dir);
    const small = randomClipModel({
      ...model.arch,
      vision: { ...model.arch.vision, imageSize: 16 },
    });
    await assert.rejects(
      evaluate(small, { images: split, labels, head }),
      /11 images of 32 px for 11 labels; clip-tiny needs \[11, 16, 16, 3\] uint8/,
    );
    disposeModel(small);
  } finally {
    disposeModel(model);
    await Deno.remove(dir, { recursive: true });
  }
});
