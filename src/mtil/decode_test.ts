import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { readDatasetSplit } from "./datasets/registry.ts";
import { augmentSamples } from "./decode.ts";
import { prepareSplit } from "./prepare.ts";
import { writeSyntheticMtil } from "./synthetic.ts";
import { mixedSplit } from "../../tests/image_split.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

Deno.test("a corrupt image is a UserError naming the dataset, the file and the layout", async () => {
  await withTempDir("rankone-decode-", async (root) => {
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

Deno.test("augmentSamples crops repeatably per seed, independent of concurrency", async () => {
  await withTempDir("rankone-decode-", async (root) => {
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
