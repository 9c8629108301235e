import assert from "node:assert/strict";
import { decodeImage, preprocessToUint8, rgbFromPixels } from "../io/image.ts";
import { readDatasetSplit } from "./datasets/registry.ts";
import { prepareSamples, prepareSplit } from "./prepare.ts";
import { writeSyntheticMtil } from "./synthetic.ts";
import { mixedSplit } from "../../tests/image_split.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

function grey3x2(values: number[]) {
  return rgbFromPixels(Uint8Array.from(values), { width: 3, height: 2, channels: 1 });
}

Deno.test("prepareSamples stores exactly preprocessToUint8 of every file and array image", async () => {
  await withTempDir("rankone-prepare-", async (root) => {
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

Deno.test("prepareSplit on a synthetic DTD: limit gives a balanced, repeatable subset of the full split", async () => {
  await withTempDir("rankone-prepare-", async (root) => {
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

Deno.test("prepareSamples stops at an aborted signal", async () => {
  await withTempDir("rankone-prepare-", async (root) => {
    const split = await mixedSplit(root);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      () => prepareSamples(split, { size: 4, signal: controller.signal }),
      (error: unknown) => (error as Error).name === "AbortError",
    );
  });
});
