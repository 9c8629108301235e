import assert from "node:assert/strict";
import sharp from "sharp";
import { UserError } from "../errors.ts";
import { decodeImage, preprocessToUint8, randomResizedCrop, rgbFromPixels } from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { readNpy, writeNpy } from "../io/npy.ts";
import type { DatasetSplit } from "./datasets/registry.ts";
import { readDatasetSplit } from "./datasets/registry.ts";
import { fewShotIndices } from "./fewshot.ts";
import {
  augmentSamples,
  balancedSubset,
  buildFewShotSet,
  epochSeed,
  PreparedSplitReader,
  prepareSamples,
  prepareSplit,
  readFewShotSet,
  readImageSet,
  readPrepared,
  writeFewShotSet,
  writeImageSet,
  writePrepared,
} from "./prepare.ts";
import { writeSyntheticMtil } from "./synthetic.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rankone-prepare-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A width x height PNG whose pixels are a deterministic pattern seeded by `seed`. */
async function writePng(path: string, size: { width: number; height: number; seed: number }) {
  const { width, height, seed } = size;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + (i % 7) * 13) % 256;
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

/** A split of three PNGs (landscape, portrait, square) and two 3x2 grey array images. */
async function mixedSplit(root: string): Promise<DatasetSplit> {
  await Deno.mkdir(`${root}/images`, { recursive: true });
  await writePng(`${root}/images/a.png`, { width: 40, height: 25, seed: 1 });
  await writePng(`${root}/images/b.png`, { width: 19, height: 33, seed: 2 });
  await writePng(`${root}/images/c.png`, { width: 16, height: 16, seed: 3 });
  const images = {
    file: "grey.idx",
    count: 2,
    height: 2,
    width: 3,
    channels: 1 as const,
    pixels: Uint8Array.from([0, 50, 100, 150, 200, 250, 5, 15, 25, 35, 45, 55]),
  };
  return {
    dataset: "DTD",
    split: "test",
    root,
    classNames: ["zero", "one"],
    samples: [
      { kind: "file", path: "images/a.png", label: 1 },
      { kind: "array", path: "grey.idx#0", label: 0, images, index: 0 },
      { kind: "file", path: "images/b.png", label: 0 },
      { kind: "file", path: "images/c.png", label: 1 },
      { kind: "array", path: "grey.idx#1", label: 1, images, index: 1 },
    ],
  };
}

function grey3x2(values: number[]) {
  return rgbFromPixels(Uint8Array.from(values), { width: 3, height: 2, channels: 1 });
}

Deno.test("prepareSamples stores exactly preprocessToUint8 of every file and array image", async () => {
  await withTempDir(async (root) => {
    const split = await mixedSplit(root);
    const size = 8;
    const seen: number[] = [];
    const prepared = await prepareSamples(split, {
      size,
      concurrency: 2,
      onProgress: (done) => seen.push(done),
    });
    assert.equal(prepared.images.length, 5 * size * size * 3);
    assert.deepEqual([...prepared.labels], [1, 0, 0, 1, 1]);
    assert.deepEqual([...prepared.sampleIndices], [0, 1, 2, 3, 4]);
    assert.deepEqual(prepared.paths, split.samples.map((sample) => sample.path));
    assert.deepEqual(prepared.classNames, ["zero", "one"]);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    const expected = [
      preprocessToUint8(await decodeImage(`${root}/images/a.png`), size),
      preprocessToUint8(grey3x2([0, 50, 100, 150, 200, 250]), size),
      preprocessToUint8(await decodeImage(`${root}/images/b.png`), size),
      preprocessToUint8(await decodeImage(`${root}/images/c.png`), size),
      preprocessToUint8(grey3x2([5, 15, 25, 35, 45, 55]), size),
    ];
    expected.forEach((pixels, i) => {
      const stored = prepared.images.subarray(i * size * size * 3, (i + 1) * size * size * 3);
      assert.deepEqual(stored, pixels, `image ${i}`);
    });
  });
});

Deno.test("balancedSubset takes classes round-robin in label order and keeps split order", () => {
  const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  assert.deepEqual([...balancedSubset(labels, 5)], [0, 1, 3, 4, 5]);
  // Class 1 runs out after two: the remaining picks go to classes 0 and 2.
  assert.deepEqual([...balancedSubset(labels, 7)], [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...balancedSubset(labels, 2)], [0, 3]);
  assert.deepEqual([...balancedSubset(labels, 100)], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  // Interleaved labels: round 0 takes 3 (class 0), 1 (class 1), 0 (class 2); round 1 starts
  // again at class 0 (index 5).
  assert.deepEqual([...balancedSubset([2, 1, 2, 0, 1, 0, 2], 4)], [0, 1, 3, 5]);
  assert.throws(() => balancedSubset(labels, 0), UserError);
});

Deno.test("prepareSplit on a synthetic DTD: limit gives a balanced, repeatable subset of the full split", async () => {
  await withTempDir(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 7,
      datasets: ["DTD"],
      classesPerDataset: 3,
      imagesPerClass: 2,
      testImagesPerClass: 4,
      size: 20,
    });
    const full = await prepareSplit(root, { dataset: "DTD", split: "test", size: 16 });
    assert.equal(full.labels.length, 12);
    const split = await readDatasetSplit(root, "DTD", "test");
    assert.deepEqual([...full.labels], split.samples.map((sample) => sample.label));
    const first = split.samples[0]!;
    assert.deepEqual(
      full.images.subarray(0, 16 * 16 * 3),
      preprocessToUint8(await decodeImage(`${root}/${first.path}`), 16),
    );

    const limited = await prepareSplit(root, { dataset: "DTD", split: "test", size: 16, limit: 7 });
    const again = await prepareSplit(root, { dataset: "DTD", split: "test", size: 16, limit: 7 });
    assert.deepEqual(limited, again);
    const perClass = [0, 0, 0];
    for (const label of limited.labels) perClass[label]! += 1;
    assert.deepEqual(perClass, [3, 2, 2]);
    // Each kept image is the full split's image at the same sample index.
    const bytes = 16 * 16 * 3;
    limited.sampleIndices.forEach((index, position) => {
      assert.deepEqual(
        limited.images.subarray(position * bytes, (position + 1) * bytes),
        full.images.subarray(index * bytes, (index + 1) * bytes),
      );
      assert.equal(limited.labels[position], full.labels[index]);
    });
  });
});

Deno.test("a corrupt image is a UserError naming the dataset, the file and the layout", async () => {
  await withTempDir(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 3,
      datasets: ["DTD"],
      classesPerDataset: 2,
      imagesPerClass: 1,
      testImagesPerClass: 2,
    });
    const split = await readDatasetSplit(root, "DTD", "test");
    const broken = split.samples[1]!.path;
    await Deno.writeFile(`${root}/${broken}`, new TextEncoder().encode("not a jpeg at all"));
    await assert.rejects(
      () => prepareSplit(root, { dataset: "DTD", split: "test", size: 8 }),
      (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.match(error.message, /^DTD \(test split\): Cannot decode image /);
        assert.ok(error.message.includes(`${root}/${broken}`), error.message);
        assert.match(error.message, /torchvision layout dtd\/dtd\//);
        return true;
      },
    );
  });
});

Deno.test("prepareSamples stops at an aborted signal", async () => {
  await withTempDir(async (root) => {
    const split = await mixedSplit(root);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      () => prepareSamples(split, { size: 4, signal: controller.signal }),
      (error: unknown) => (error as Error).name === "AbortError",
    );
  });
});

Deno.test("augmentSamples crops repeatably per seed, independent of concurrency", async () => {
  await withTempDir(async (root) => {
    const split = await mixedSplit(root);
    const indices = Int32Array.from([0, 2, 3]);
    const one = await augmentSamples(split, indices, { size: 8, seed: 5, concurrency: 1 });
    const many = await augmentSamples(split, indices, { size: 8, seed: 5, concurrency: 3 });
    const other = await augmentSamples(split, indices, { size: 8, seed: 6, scale: [0.2, 0.3] });
    assert.equal(one.length, 3 * 8 * 8 * 3);
    assert.deepEqual(one, many);
    assert.notDeepEqual(one, other);
  });
});

Deno.test("writePrepared then readPrepared gives back the same split; bad files are UserErrors", async () => {
  await withTempDir(async (root) => {
    const prepared = await prepareSamples(await mixedSplit(root), { size: 4, limit: 3 });
    const dir = `${root}/prepared`;
    await writePrepared(dir, prepared);
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(names, ["images.npy", "indices.npy", "labels.npy", "meta.json"]);
    assert.deepEqual((await readNpy(`${dir}/images.npy`)).shape, [3, 4, 4, 3]);
    assert.deepEqual(await readPrepared(dir), prepared);

    await writeNpy(`${dir}/labels.npy`, { dtype: "int32", shape: [2], data: new Int32Array(2) });
    await assert.rejects(() => readPrepared(dir), /labels\.npy: shape \[2\], expected \[3\]/);
    await writeNpy(`${dir}/labels.npy`, {
      dtype: "int32",
      shape: [3],
      data: Int32Array.from([0, 1, 9]),
    });
    await assert.rejects(() => readPrepared(dir), /label 9 at 2 is outside 0\.\.1/);
    await assert.rejects(() => readPrepared(`${root}/nowhere`), /meta\.json is missing/);

    const noImages = { ...prepared, images: null };
    await writeImageSet(`${root}/lean`, noImages, { extra: { shots: 0 } });
    const { set, extra } = await readImageSet(`${root}/lean`);
    assert.equal(set.images, null);
    assert.deepEqual(extra, { shots: 0 });
    await assert.rejects(() => readPrepared(`${root}/lean`), /images\.npy was not stored/);
  });
});

Deno.test("PreparedSplitReader streams a prepared split's images in batches, equal to readPrepared's", async () => {
  await withTempDir(async (root) => {
    const prepared = await prepareSamples(await mixedSplit(root), { size: 4, limit: 3 });
    const dir = `${root}/prepared`;
    await writePrepared(dir, prepared);
    {
      using reader = await PreparedSplitReader.open(dir);
      assert.equal(reader.count, 3);
      assert.equal(reader.size, 4);
      assert.deepEqual(reader.labels, prepared.labels);
      assert.deepEqual(reader.classNames, prepared.classNames);
      const image = 4 * 4 * 3;
      assert.deepEqual(await reader.readImages(1, 3), prepared.images.subarray(image, 3 * image));
      assert.deepEqual(await reader.readImages(0, 1), prepared.images.subarray(0, image));
    }
    // images.npy that disagrees with meta.json is refused when opened.
    await writeNpy(`${dir}/images.npy`, {
      dtype: "uint8",
      shape: [3, 5, 5, 3],
      data: new Uint8Array(3 * 75),
    });
    await assert.rejects(
      PreparedSplitReader.open(dir),
      /images\.npy: uint8 \[3, 5, 5, 3\], expected uint8 \[3, 4, 4, 3\]/,
    );
    await writeImageSet(`${root}/lean`, { ...prepared, images: null });
    await assert.rejects(PreparedSplitReader.open(`${root}/lean`), /images\.npy was not stored/);
  });
});

Deno.test("buildFewShotSet: shots x classes augmented images with the draw's labels, same bytes for the same seed", async () => {
  await withTempDir(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 11,
      datasets: ["DTD"],
      classesPerDataset: 3,
      imagesPerClass: 4,
      testImagesPerClass: 1,
      size: 24,
    });
    const options = { dataset: "DTD", shots: 2, seed: 42, size: 16 };
    const set = await buildFewShotSet(root, options);
    const split = await readDatasetSplit(root, "DTD", "train");
    const drawn = fewShotIndices(split, { shots: 2, seed: 42 });
    assert.deepEqual([...set.sampleIndices], drawn);
    assert.deepEqual([...set.labels], drawn.map((index) => split.samples[index]!.label));
    const perClass = [0, 0, 0];
    for (const label of set.labels) perClass[label]! += 1;
    assert.deepEqual(perClass, [2, 2, 2]);
    assert.equal(set.images!.length, 6 * 16 * 16 * 3);
    assert.equal(set.augment, "random-resized-crop");

    // Image p is RandomResizedCrop(16, scale 0.9-1.0) with the p-th generator forked from seed.
    const parent = new SeededRng(42);
    const bytes = 16 * 16 * 3;
    for (let position = 0; position < drawn.length; position++) {
      const rng = parent.fork();
      const image = await decodeImage(`${root}/${split.samples[drawn[position]!]!.path}`);
      const expected = randomResizedCrop(image, 16, { scale: [0.9, 1.0], rng }).data;
      assert.deepEqual(set.images!.subarray(position * bytes, (position + 1) * bytes), expected);
    }

    assert.deepEqual(await buildFewShotSet(root, options), set);
    const otherSeed = await buildFewShotSet(root, { ...options, seed: 43 });
    assert.notDeepEqual(otherSeed.images, set.images);

    const centred = await buildFewShotSet(root, { ...options, augment: "center-crop" });
    const prepared = await prepareSplit(root, { dataset: "DTD", split: "train", size: 16 });
    drawn.forEach((index, position) => {
      assert.deepEqual(
        centred.images!.subarray(position * bytes, (position + 1) * bytes),
        prepared.images.subarray(index * bytes, (index + 1) * bytes),
      );
    });

    await writeFewShotSet(`${root}/fewshot`, set);
    assert.deepEqual(await readFewShotSet(`${root}/fewshot`), set);
    await assert.rejects(() => readFewShotSet(`${root}/missing`), UserError);
  });
});

Deno.test("buildFewShotSet with shots = 0 lists the whole train split and stores no images", async () => {
  await withTempDir(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 5,
      datasets: ["MNIST"],
      classesPerDataset: 2,
      imagesPerClass: 3,
      testImagesPerClass: 1,
    });
    const set = await buildFewShotSet(root, { dataset: "MNIST", shots: 0, seed: 1, size: 8 });
    const split = await readDatasetSplit(root, "MNIST", "train");
    assert.equal(set.images, null);
    assert.deepEqual([...set.sampleIndices], split.samples.map((_, i) => i));
    assert.deepEqual([...set.labels], split.samples.map((sample) => sample.label));
    await writeFewShotSet(`${root}/full`, set);
    assert.deepEqual(await readFewShotSet(`${root}/full`), set);
    // Per-epoch crops: new per epoch, repeatable per (seed, epoch).
    assert.notEqual(epochSeed(1, 0), epochSeed(1, 1));
    assert.equal(epochSeed(1, 3), epochSeed(1, 3));
    const batch = set.sampleIndices.subarray(0, 2);
    const first = await augmentSamples(split, batch, { size: 8, seed: epochSeed(1, 0) });
    assert.equal(first.length, 2 * 8 * 8 * 3);
    assert.deepEqual(await augmentSamples(split, batch, { size: 8, seed: epochSeed(1, 0) }), first);
  });
});
