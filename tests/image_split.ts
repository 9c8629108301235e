/**
 * A tiny dataset split mixing both kinds of samples the readers produce: image files of three
 * shapes (decoded through sharp) and images sliced from an array file, for the tests of decoding,
 * preparing and storing image sets.
 */
import sharp from "sharp";
import type { DatasetSplit } from "../src/mtil/datasets/registry.ts";

/** A width x height PNG whose pixels are a deterministic pattern seeded by `seed`. */
async function writePng(path: string, size: { width: number; height: number; seed: number }) {
  const { width, height, seed } = size;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + (i % 7) * 13) % 256;
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

/** A split of three PNGs (landscape, portrait, square) and two 3x2 grey array images. */
export async function mixedSplit(root: string): Promise<DatasetSplit> {
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
