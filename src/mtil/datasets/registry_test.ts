import assert from "node:assert/strict";
import { loadSample } from "../decode.ts";
import { writeSyntheticMtil } from "../synthetic.ts";
import { checkImageFile, type FileSample, mtilDataset, readDatasetSplit } from "./registry.ts";
import { CALTECH101_CATEGORIES } from "./caltech101.ts";
import { pythonTitle } from "./oxford_pet.ts";
import { UserError } from "../../errors.ts";
import { needsShared, sharedPath } from "../../../tests/shared.ts";

function readInt32Npy(path: string): Int32Array {
  const bytes = Deno.readFileSync(path);
  const headerLength = new DataView(bytes.buffer).getUint16(8, true);
  return new Int32Array(bytes.slice(10 + headerLength).buffer);
}

async function withTempRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "rankone-datasets-" });
  try {
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const userError = (message: string) => (error: unknown) =>
  error instanceof UserError && error.message === message;

Deno.test(
  "a synthetic Caltech101 of exactly 1000 images trains on randperm(1000, seed 42)'s first 800",
  needsShared("mtil/splits/randperm_seed42_n1000.npy"),
  () =>
    withTempRoot(async (root) => {
      await writeSyntheticMtil(root, {
        seed: 1,
        datasets: ["Caltech101"],
        classesPerDataset: 10,
        imagesPerClass: 50,
        testImagesPerClass: 50,
        size: 4,
      });
      // torchvision's order: categories sorted, image_0001..image_0100 within each.
      const fileOrder = CALTECH101_CATEGORIES.slice(0, 10).flatMap((category) =>
        Array.from(
          { length: 100 },
          (_, i) =>
            `caltech101/101_ObjectCategories/${category}/image_${
              String(i + 1).padStart(4, "0")
            }.jpg`,
        )
      );
      const permutation = readInt32Npy(sharedPath("mtil/splits/randperm_seed42_n1000.npy")!);
      const train = await readDatasetSplit(root, "Caltech101", "train");
      const test = await readDatasetSplit(root, "Caltech101", "test");
      assert.deepEqual(
        train.samples.map((s) => s.path),
        [...permutation.slice(0, 800)].map((i) => fileOrder[i]),
      );
      assert.deepEqual(
        test.samples.map((s) => s.path),
        [...permutation.slice(800)].map((i) => fileOrder[i]),
      );
      assert.deepEqual(
        train.samples.slice(0, 3).map((s) => s.label),
        [...permutation.slice(0, 3)].map((i) => Math.floor(i / 100)),
      );
    }),
);

Deno.test(
  "Caltech101 with 8677 images (its real size) splits 6941 / 1736 as randperm(8677, seed 42)",
  needsShared("mtil/splits/randperm_seed42_n8677.npy"),
  () =>
    withTempRoot(async (root) => {
      // The reader lists files and never decodes them, so empty files stand in for images.
      const counts: [string, number][] = [["Faces", 5000], ["Leopards", 3677]];
      for (const [category, count] of counts) {
        const folder = `${root}/caltech101/101_ObjectCategories/${category}`;
        await Deno.mkdir(folder, { recursive: true });
        for (let i = 1; i <= count; i++) {
          Deno.writeFileSync(`${folder}/image_${String(i).padStart(4, "0")}.jpg`, new Uint8Array());
        }
      }
      const permutation = readInt32Npy(sharedPath("mtil/splits/randperm_seed42_n8677.npy")!);
      const name = (i: number) =>
        i < 5000
          ? `Faces/image_${String(i + 1).padStart(4, "0")}.jpg`
          : `Leopards/image_${String(i - 4999).padStart(4, "0")}.jpg`;
      const train = await readDatasetSplit(root, "Caltech101", "train");
      const test = await readDatasetSplit(root, "Caltech101", "test");
      assert.equal(train.samples.length, 6941);
      assert.equal(test.samples.length, 1736);
      assert.deepEqual(
        train.samples.map((s) => s.path),
        [...permutation.slice(0, 6941)].map((i) => `caltech101/101_ObjectCategories/${name(i)}`),
      );
      assert.deepEqual(train.classNames, ["off-center face", "leopard"]);
    }),
);

Deno.test("a missing dataset folder names the dataset, the path and the expected layout", () =>
  withTempRoot(async (root) => {
    await assert.rejects(
      () => readDatasetSplit(root, "caltech101", "train"),
      userError(
        `Caltech101: missing folder ${root}/caltech101/101_ObjectCategories (expected torchvision ` +
          "layout caltech101/101_ObjectCategories/<class>/image_0001.jpg..)",
      ),
    );
    await assert.rejects(
      () => readDatasetSplit(root, "MNIST", "test"),
      userError(
        `MNIST: missing folder ${root}/MNIST/raw (expected torchvision layout ` +
          "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte)",
      ),
    );
  }));

Deno.test("a missing annotation file is a UserError naming it, for every annotation format", () =>
  withTempRoot(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 2,
      datasets: ["Aircraft", "Flowers", "StanfordCars", "CIFAR100", "Food"],
      imagesPerClass: 1,
      size: 4,
    });
    const cases: [string, string, string, string][] = [
      ["Aircraft", "fgvc-aircraft-2013b/data/images_variant_test.txt", "test", "split list"],
      ["Flowers", "flowers-102/setid.mat", "train", "split file"],
      ["StanfordCars", "stanford_cars/cars_test_annos_withlabels.mat", "test", "annotation file"],
      ["CIFAR100", "cifar-100-python/meta", "train", "meta file"],
      ["Food", "food-101/meta/train.json", "train", "split file"],
    ];
    for (const [name, file, split, what] of cases) {
      await Deno.remove(`${root}/${file}`);
      await assert.rejects(
        () => readDatasetSplit(root, name, split as "train" | "test"),
        userError(
          `${name}: missing ${what} ${root}/${file} (expected torchvision layout ` +
            `${mtilDataset(name).layout})`,
        ),
      );
    }
  }));

Deno.test("an empty class folder is a UserError naming the class and folder", () =>
  withTempRoot(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 2,
      datasets: ["EuroSAT", "SUN397"],
      imagesPerClass: 1,
      size: 4,
    });
    await Deno.remove(`${root}/eurosat/2750/Forest`, { recursive: true });
    await Deno.mkdir(`${root}/eurosat/2750/Forest`);
    await assert.rejects(
      () => readDatasetSplit(root, "EuroSAT", "train"),
      userError(
        `EuroSAT: class "Forest" has no images in ${root}/eurosat/2750/Forest (expected torchvision ` +
          "layout eurosat/2750/<class>/<class>_<n>.jpg)",
      ),
    );
    await Deno.remove(`${root}/SUN397/b`, { recursive: true });
    await assert.rejects(
      () => readDatasetSplit(root, "SUN397", "test"),
      (error: unknown) =>
        error instanceof UserError &&
        error.message.startsWith(
          `SUN397: class "bamboo_forest" has no images in ${root}/SUN397/b/bamboo_forest`,
        ),
    );
  }));

Deno.test("a corrupt image is a UserError naming the dataset and the file", () =>
  withTempRoot(async (root) => {
    await writeSyntheticMtil(root, { seed: 4, datasets: ["DTD"], imagesPerClass: 1, size: 8 });
    const split = await readDatasetSplit(root, "DTD", "train");
    const sample = split.samples[0] as FileSample;
    await checkImageFile(split, sample);
    assert.equal((await loadSample(split, sample)).width, 8);
    await Deno.writeTextFile(`${root}/${sample.path}`, "not an image");
    await assert.rejects(
      () => checkImageFile(split, sample),
      userError(
        `DTD: corrupt image ${root}/${sample.path} (not a JPEG or PNG: starts with 6e 6f 74 20 61 6e 20 69)`,
      ),
    );
    await assert.rejects(
      () => loadSample(split, sample),
      (error: unknown) =>
        error instanceof UserError &&
        error.message.startsWith(`DTD (train split): Cannot decode image ${root}/${sample.path}`),
    );
    await Deno.remove(`${root}/${sample.path}`);
    await assert.rejects(
      () => checkImageFile(split, sample),
      /DTD: missing image .* \(listed in the train split;/,
    );
  }));

Deno.test("Caltech101 rejects stray files that would shift torchvision's numbering", () =>
  withTempRoot(async (root) => {
    await writeSyntheticMtil(root, {
      seed: 2,
      datasets: ["Caltech101"],
      imagesPerClass: 1,
      size: 4,
    });
    await Deno.writeTextFile(`${root}/caltech101/101_ObjectCategories/Faces/notes.txt`, "x");
    await assert.rejects(
      () => readDatasetSplit(root, "Caltech101", "train"),
      /Caltech101: .*\/Faces: holds 3 entries, so torchvision reads image_0001.jpg..image_0003.jpg, but "notes.txt" is not one of them/,
    );
  }));

Deno.test("array-backed samples have pseudo-paths and decode to RGB (MNIST grey replicated)", () =>
  withTempRoot(async (root) => {
    await writeSyntheticMtil(root, { seed: 6, datasets: ["MNIST", "CIFAR100"], imagesPerClass: 2 });
    const mnist = await readDatasetSplit(root, "MNIST", "test");
    assert.deepEqual(mnist.samples.slice(0, 2).map((s) => s.path), [
      "MNIST/raw/t10k-images-idx3-ubyte#0",
      "MNIST/raw/t10k-images-idx3-ubyte#1",
    ]);
    const digit = await loadSample(mnist, mnist.samples[1]!);
    assert.deepEqual([digit.width, digit.height], [28, 28]);
    assert.equal(digit.data[30], digit.data[31]);
    const cifar = await readDatasetSplit(root, "CIFAR100", "train");
    assert.equal(cifar.samples[5]!.path, "cifar-100-python/train#5");
    const image = await loadSample(cifar, cifar.samples[5]!);
    assert.deepEqual([image.width, image.height, image.data.length], [32, 32, 3072]);
  }));

Deno.test("mtilDataset() finds names case-insensitively and by folder, and lists the known ones", () => {
  assert.equal(mtilDataset("flowers-102").name, "Flowers");
  assert.equal(mtilDataset("sun397").folder, "SUN397");
  assert.throws(
    () => mtilDataset("ImageNet"),
    /Unknown MTIL dataset "ImageNet" \(known: Aircraft, Caltech101,/,
  );
});

Deno.test("pythonTitle() title-cases like Python's str.title()", () => {
  assert.equal(pythonTitle("staffordshire"), "Staffordshire");
  assert.equal(pythonTitle("BRITISH"), "British");
  assert.equal(pythonTitle("o'neil x2y"), "O'Neil X2Y");
});
