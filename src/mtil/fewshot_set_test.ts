import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { decodeImage, randomResizedCrop } from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { readDatasetSplit } from "./datasets/registry.ts";
import { augmentSamples, epochSeed } from "./decode.ts";
import { fewShotIndices } from "./fewshot.ts";
import { buildFewShotSet, readFewShotSet, writeFewShotSet } from "./fewshot_set.ts";
import { prepareSplit } from "./prepare.ts";
import { writeSyntheticMtil } from "./synthetic.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

Deno.test("buildFewShotSet: shots x classes augmented images with the draw's labels, same bytes for the same seed", async () => {
  await withTempDir("rankone-fewshot-set-", async (root) => {
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
  await withTempDir("rankone-fewshot-set-", async (root) => {
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
