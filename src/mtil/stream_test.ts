import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { normalizeUint8 } from "../io/image.ts";
import { type DatasetSplit, readDatasetSplit } from "./datasets/registry.ts";
import { augmentSamples, epochSeed } from "./decode.ts";
import { openStreamedImages, StreamedSplitImages } from "./stream.ts";
import { writeSyntheticMtil } from "./synthetic.ts";

const SIZE = 8;
const PLANE = 3 * SIZE * SIZE;

async function withSplit(body: (root: string, split: DatasetSplit) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "rankone-stream-" });
  try {
    await writeSyntheticMtil(root, {
      seed: 3,
      datasets: ["DTD"],
      classesPerDataset: 2,
      imagesPerClass: 3,
      size: 16,
    });
    await body(root, await readDatasetSplit(root, "DTD", "train"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** A training set listing the split's samples out of order, as a few-shot artifact may. */
const SAMPLE_INDICES = Int32Array.from([4, 1, 5, 0, 3, 2]);

/** What a stored, once-augmented set would hold for `epoch`, normalised: [N, 3, S, S]. */
async function expectedPixels(split: DatasetSplit, seed: number, epoch: number) {
  const images = await augmentSamples(split, SAMPLE_INDICES, {
    size: SIZE,
    seed: epochSeed(seed, epoch),
  });
  const imageBytes = SIZE * SIZE * 3;
  return Array.from(
    SAMPLE_INDICES,
    (_, p) => normalizeUint8(images.subarray(p * imageBytes, (p + 1) * imageBytes), SIZE),
  );
}

async function batchRows(stream: StreamedSplitImages, indices: number[], epoch: number) {
  const tensor = await stream.batch(indices, epoch);
  try {
    assert.deepEqual(tensor.shape, [indices.length, 3, SIZE, SIZE]);
    const data = await tensor.data() as Float32Array;
    return indices.map((_, row) => data.slice(row * PLANE, (row + 1) * PLANE));
  } finally {
    tensor.dispose();
  }
}

Deno.test("a streamed batch holds the pixels augmentSamples gives with epochSeed(seed, epoch), normalised", async () => {
  await withSplit(async (_root, split) => {
    const stream = new StreamedSplitImages(split, {
      sampleIndices: SAMPLE_INDICES,
      size: SIZE,
      seed: 11,
    });
    assert.equal(stream.count, 6);
    assert.deepEqual(
      Array.from(stream.labels),
      Array.from(SAMPLE_INDICES, (i) => split.samples[i]!.label),
    );
    for (const epoch of [0, 3]) {
      const expected = await expectedPixels(split, 11, epoch);
      const rows = await batchRows(stream, [5, 0, 3], epoch);
      assert.deepEqual(rows, [expected[5], expected[0], expected[3]]);
    }
  });
});

Deno.test("a sample's crop does not depend on its batch, the decode concurrency or a new instance", async () => {
  await withSplit(async (_root, split) => {
    const options = { sampleIndices: SAMPLE_INDICES, size: SIZE, seed: 2 };
    const serial = new StreamedSplitImages(split, { ...options, concurrency: 1 });
    const parallel = new StreamedSplitImages(split, { ...options, concurrency: 4 });
    const [alone] = await batchRows(serial, [2], 1);
    const mixed = await batchRows(parallel, [4, 2, 0, 1], 1);
    assert.deepEqual(mixed[1], alone);
    assert.deepEqual(await batchRows(serial, [4, 2, 0, 1], 1), mixed);
  });
});

Deno.test("every epoch crops anew; the same epoch gives the same bytes", async () => {
  await withSplit(async (_root, split) => {
    const stream = new StreamedSplitImages(split, {
      sampleIndices: SAMPLE_INDICES,
      size: SIZE,
      seed: 7,
    });
    const all = [0, 1, 2, 3, 4, 5];
    const epoch0 = await batchRows(stream, all, 0);
    const epoch1 = await batchRows(stream, all, 1);
    const epoch2 = await batchRows(stream, all, 2);
    assert.notDeepEqual(epoch0, epoch1);
    assert.notDeepEqual(epoch1, epoch2);
    for (let p = 0; p < all.length; p++) assert.notDeepEqual(epoch0[p], epoch1[p], `image ${p}`);
    assert.deepEqual(await batchRows(stream, all, 0), epoch0);
    const otherSeed = new StreamedSplitImages(split, {
      sampleIndices: SAMPLE_INDICES,
      size: SIZE,
      seed: 8,
    });
    assert.notDeepEqual(await batchRows(otherSeed, all, 0), epoch0);
  });
});

Deno.test("a prefetched batch equals the one decoded on demand; a prefetch of other indices is ignored", async () => {
  await withSplit(async (_root, split) => {
    const options = { sampleIndices: SAMPLE_INDICES, size: SIZE, seed: 5 };
    const plain = new StreamedSplitImages(split, options);
    const ahead = new StreamedSplitImages(split, options);
    ahead.prefetch([3, 1], 2);
    assert.deepEqual(await batchRows(ahead, [3, 1], 2), await batchRows(plain, [3, 1], 2));
    ahead.prefetch([0, 1], 2);
    assert.deepEqual(await batchRows(ahead, [0, 1], 3), await batchRows(plain, [0, 1], 3));
    assert.throws(() => ahead.prefetch([6], 0), RangeError);
  });
});

Deno.test("tensor count stays flat across streamed batches and prefetches", async () => {
  await withSplit(async (_root, split) => {
    const stream = new StreamedSplitImages(split, {
      sampleIndices: SAMPLE_INDICES,
      size: SIZE,
      seed: 1,
    });
    const before = tf.memory().numTensors;
    for (let step = 0; step < 6; step++) {
      const batch = await stream.batch([step % 6, (step + 2) % 6], Math.floor(step / 3));
      stream.prefetch([(step + 1) % 6, (step + 3) % 6], Math.floor((step + 1) / 3));
      batch.dispose();
      assert.equal(tf.memory().numTensors, before, `after step ${step}`);
    }
  });
});

Deno.test("a data root changed since the listing is a UserError that says to rerun fewshot", async () => {
  await withSplit(async (root, split) => {
    const labels = Array.from(SAMPLE_INDICES, (i) => split.samples[i]!.label);
    const stream = await openStreamedImages(root, {
      dataset: "DTD",
      sampleIndices: SAMPLE_INDICES,
      expectedLabels: labels,
      size: SIZE,
      seed: 0,
    });
    assert.equal(stream.count, 6);
    const swapped = labels.map((label) => 1 - label);
    await assert.rejects(
      openStreamedImages(root, {
        dataset: "DTD",
        sampleIndices: SAMPLE_INDICES,
        expectedLabels: swapped,
        size: SIZE,
        seed: 0,
      }),
      (error) =>
        error instanceof UserError && /labels on disk differ.*--force fewshot/.test(error.message),
    );
    assert.throws(
      () => new StreamedSplitImages(split, { sampleIndices: [0, 6], size: SIZE, seed: 0 }),
      (error) =>
        error instanceof UserError && /sample 6 does not exist.*6 samples/.test(error.message),
    );
  });
});

Deno.test("an unreadable image fails its batch, naming the file; an unused failed prefetch is harmless", async () => {
  await withSplit(async (root, split) => {
    const stream = new StreamedSplitImages(split, {
      sampleIndices: SAMPLE_INDICES,
      size: SIZE,
      seed: 0,
    });
    const broken = split.samples[SAMPLE_INDICES[2]!]!;
    await Deno.writeTextFile(`${root}/${broken.path}`, "not an image");
    stream.prefetch([2], 0);
    await assert.rejects(
      stream.batch([2], 0),
      (error) => error instanceof UserError && error.message.includes(broken.path),
    );
    stream.prefetch([1, 2], 0); // fails in the background, never asked for
    const rows = await batchRows(stream, [0], 0);
    assert.equal(rows.length, 1);
  });
});
