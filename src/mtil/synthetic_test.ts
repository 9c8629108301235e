import assert from "node:assert/strict";
import { writeSyntheticMtil } from "./synthetic.ts";
import { MTIL_DATASETS, readDatasetSplit } from "./datasets/registry.ts";
import { loadSample } from "./decode.ts";
import { UserError } from "../errors.ts";

const EXPECTED_CLASS_NAMES: Record<string, string[]> = {
  Aircraft: ["707-320", "727-200", "737-200"],
  Caltech101: ["off-center face", "centered face", "leopard"],
  CIFAR100: ["apple", "aquarium fish", "baby"],
  DTD: ["banded", "blotchy", "braided"],
  EuroSAT: ["annual crop land", "forest", "brushland or shrubland"],
  Flowers: ["pink primrose", "hard-leaved pocket orchid", "canterbury bells"],
  Food: ["apple pie", "baby back ribs", "baklava"],
  MNIST: ["0 - zero", "1 - one", "2 - two"],
  OxfordPet: ["Abyssinian", "American Bulldog", "American Pit Bull Terrier"],
  StanfordCars: ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"],
  SUN397: ["abbey", "apartment building/outdoor", "bamboo forest"],
};

async function treeDigest(root: string): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else files.push(path);
    }
  };
  await walk(root);
  files.sort();
  const parts: Uint8Array[] = [];
  for (const file of files) {
    parts.push(new TextEncoder().encode(file.slice(root.length)), await Deno.readFile(file));
  }
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    total.set(part, offset);
    offset += part.length;
  }
  const digest = await crypto.subtle.digest("SHA-256", total);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("writeSyntheticMtil writes all 11 layouts; each reads back with 3 classes and its counts", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-synthetic-" });
  try {
    await writeSyntheticMtil(root, { seed: 3, imagesPerClass: 3, testImagesPerClass: 2, size: 8 });
    for (const layout of MTIL_DATASETS) {
      const train = await readDatasetSplit(root, layout.name, "train");
      const test = await readDatasetSplit(root, layout.name, "test");
      assert.deepEqual(train.classNames, EXPECTED_CLASS_NAMES[layout.name], layout.name);
      assert.deepEqual(test.classNames, train.classNames, layout.name);
      // Official splits: 3 x 3 train, 3 x 2 test. Random splits: 15 images, int(0.8 * 15) = 12.
      const sizes = layout.splitKind === "official" ? [9, 6] : [12, 3];
      assert.deepEqual([train.samples.length, test.samples.length], sizes, layout.name);
      if (layout.splitKind === "official") {
        for (const split of [train, test]) {
          const perClass = [0, 1, 2].map((c) => split.samples.filter((s) => s.label === c).length);
          assert.deepEqual(perClass, split === train ? [3, 3, 3] : [2, 2, 2], layout.name);
        }
      }
      const paths = new Set([...train.samples, ...test.samples].map((s) => s.path));
      assert.equal(paths.size, sizes[0]! + sizes[1]!, `${layout.name}: train and test overlap`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeSyntheticMtil is deterministic for a seed and differs across seeds", async () => {
  const roots = await Promise.all(
    [1, 2, 3].map(() => Deno.makeTempDir({ prefix: "rankone-syn-" })),
  );
  try {
    const options = { datasets: ["Flowers", "CIFAR100", "StanfordCars"] as const, size: 8 };
    await writeSyntheticMtil(roots[0]!, { ...options, seed: 11 });
    await writeSyntheticMtil(roots[1]!, { ...options, seed: 11 });
    await writeSyntheticMtil(roots[2]!, { ...options, seed: 12 });
    const [a, b, c] = await Promise.all(roots.map(treeDigest));
    assert.equal(a, b);
    assert.notEqual(a, c);
  } finally {
    for (const root of roots) await Deno.remove(root, { recursive: true });
  }
});

Deno.test("synthetic classes are distinguishable: nearest class-mean colour labels every test image", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-synthetic-" });
  try {
    await writeSyntheticMtil(root, {
      seed: 5,
      datasets: ["EuroSAT", "MNIST", "CIFAR100"],
      classesPerDataset: 5,
      imagesPerClass: 4,
      testImagesPerClass: 4,
      size: 16,
    });
    for (const name of ["EuroSAT", "MNIST", "CIFAR100"]) {
      const meanColour = async (
        split: Awaited<ReturnType<typeof readDatasetSplit>>,
        index: number,
      ) => {
        const image = await loadSample(split, split.samples[index]!);
        const sums = [0, 0, 0];
        for (let p = 0; p < image.data.length; p++) sums[p % 3]! += image.data[p]!;
        return sums.map((s) => s / (image.width * image.height));
      };
      const train = await readDatasetSplit(root, name, "train");
      const test = await readDatasetSplit(root, name, "test");
      const centroids = train.classNames.map(() => [0, 0, 0]);
      const counts = train.classNames.map(() => 0);
      for (let i = 0; i < train.samples.length; i++) {
        const colour = await meanColour(train, i);
        const label = train.samples[i]!.label;
        colour.forEach((v, c) => (centroids[label]![c]! += v));
        counts[label]! += 1;
      }
      centroids.forEach((centroid, label) =>
        centroid.forEach((_, c) => (centroid[c]! /= counts[label]!))
      );
      let correct = 0;
      for (let i = 0; i < test.samples.length; i++) {
        const colour = await meanColour(test, i);
        const distances = centroids.map((centroid) =>
          centroid.reduce((sum, v, c) => sum + (v - colour[c]!) ** 2, 0)
        );
        if (distances.indexOf(Math.min(...distances)) === test.samples[i]!.label) correct++;
      }
      assert.equal(correct, test.samples.length, `${name}: ${correct}/${test.samples.length}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeSyntheticMtil refuses to replace a dataset folder it did not write", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-synthetic-" });
  try {
    await Deno.mkdir(`${root}/food-101/images`, { recursive: true });
    await assert.rejects(
      () => writeSyntheticMtil(root, { seed: 1, datasets: ["Food"] }),
      (error: unknown) =>
        error instanceof UserError &&
        error.message ===
          `Cannot write synthetic data: ${root}/food-101 exists and is not synthetic ` +
            "(no .rankone-synthetic); choose another root",
    );
    await Deno.stat(`${root}/food-101/images`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
