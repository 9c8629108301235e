import assert from "node:assert/strict";
import { readNpy, writeNpy } from "../io/npy.ts";
import {
  PreparedSplitReader,
  readImageSet,
  readPrepared,
  writeImageSet,
  writePrepared,
} from "./image_set.ts";
import { prepareSamples } from "./prepare.ts";
import { mixedSplit } from "../../tests/image_split.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

Deno.test("writePrepared then readPrepared gives back the same split; bad files are UserErrors", async () => {
  await withTempDir("rankone-image-set-", async (root) => {
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
  await withTempDir("rankone-image-set-", async (root) => {
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
