/**
 * A tiny, deterministic copy of every MTIL dataset in its real on-disk format (torchvision's
 * folder layouts; MATLAB v5 annotation files, IDX files, CIFAR pickles, txt / json lists), with
 * generated images. Each class is drawn as its own colour and stripe pattern plus per-image
 * noise, so a small model can learn to tell the classes apart: the offline quickstart trains on
 * it. Class names are the real datasets' first classes, so the benchmark's prompts apply.
 *
 * Counts: `imagesPerClass` train and `testImagesPerClass` test images per class for datasets with
 * official splits; datasets split at random (Caltech101, EuroSAT, SUN397) get the sum per class
 * and are split by the readers like the real ones.
 */
import sharp from "sharp";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { encodeIdxUint8 } from "../io/idx.ts";
import { encodeMat, mat, type MatValue } from "../io/mat.ts";
import { encodePickle, PyBytes, uint8NdArray } from "../io/pickle.ts";
import { SeededRng } from "../io/rng.ts";
import { MTIL_DATASETS as MTIL_DATASET_NAMES, type MtilDataset } from "./benchmark.ts";
import { CALTECH101_CATEGORIES } from "./datasets/caltech101.ts";
import { EUROSAT_CLASSES } from "./datasets/eurosat.ts";
import { mtilDataset } from "./datasets/registry.ts";

export interface SyntheticMtilOptions {
  /** Seed for everything random (labels order, noise, file ids). */
  seed: number;
  /** Classes written per dataset (default 3; at most the real count). */
  classesPerDataset?: number;
  /** Train images per class (default 4). */
  imagesPerClass?: number;
  /** Test images per class (default: imagesPerClass). */
  testImagesPerClass?: number;
  /** Side of the generated JPEGs in pixels (default 32; MNIST is 28, CIFAR 32 by format). */
  size?: number;
  /** Which datasets to write (default: all 11). */
  datasets?: readonly MtilDataset[];
  /** Draws each image instead of the default colour-and-stripes pattern (see `ClassRenderer`). */
  render?: ClassRenderer;
}

/**
 * Draws one image of class `classIndex` (in the order of the class names the writers use) of
 * `dataset`: row-major [size, size, channels] bytes, drawing only from `rng` so a seed fixes it.
 */
export type ClassRenderer = (request: {
  dataset: MtilDataset;
  classIndex: number;
  size: number;
  channels: 1 | 3;
  rng: SeededRng;
}) => Uint8Array;

/** A file that marks a folder as generated here, so a rewrite may replace it. */
export const SYNTHETIC_MARKER = ".rankone-synthetic";

// The first classes of each dataset (real names, in the real files' order).
const AIRCRAFT_VARIANTS = [
  "707-320",
  "727-200",
  "737-200",
  "737-300",
  "737-400",
  "737-500",
  "737-600",
  "737-700",
  "737-800",
  "737-900",
];
const CIFAR100_CLASSES = [
  "apple",
  "aquarium_fish",
  "baby",
  "bear",
  "beaver",
  "bed",
  "bee",
  "beetle",
  "bicycle",
  "bottle",
];
const DTD_CLASSES = [
  "banded",
  "blotchy",
  "braided",
  "bubbly",
  "bumpy",
  "chequered",
  "cobwebbed",
  "cracked",
  "crosshatched",
  "crystalline",
];
const FOOD_CLASSES = [
  "apple_pie",
  "baby_back_ribs",
  "baklava",
  "beef_carpaccio",
  "beef_tartare",
  "beet_salad",
  "beignets",
  "bibimbap",
  "bread_pudding",
  "breakfast_burrito",
];
const PET_BREEDS = [
  "Abyssinian",
  "american_bulldog",
  "american_pit_bull_terrier",
  "basset_hound",
  "beagle",
  "Bengal",
  "Birman",
  "Bombay",
  "boxer",
  "British_Shorthair",
];
const CAR_CLASSES = [
  "AM General Hummer SUV 2000",
  "Acura RL Sedan 2012",
  "Acura TL Sedan 2012",
  "Acura TL Type-S 2008",
  "Acura TSX Sedan 2012",
  "Acura Integra Type R 2001",
  "Acura ZDX Hatchback 2012",
  "Aston Martin V8 Vantage Convertible 2012",
  "Aston Martin V8 Vantage Coupe 2012",
  "Aston Martin Virage Convertible 2012",
];
// A sorted subset of SUN397's ClassName.txt with nested classes early, to exercise them.
const SUN_CLASSES = [
  "/a/abbey",
  "/a/apartment_building/outdoor",
  "/b/bamboo_forest",
  "/b/bedroom",
  "/c/campsite",
  "/c/church/outdoor",
  "/d/desert/sand",
  "/f/forest_path",
  "/h/highway",
  "/k/kitchen",
];

function classNamesFor(list: readonly string[], count: number, stem: string): string[] {
  return Array.from({ length: count }, (_, i) => list[i] ?? `${stem}_${i + 1}`);
}

/** HSV (all in [0, 1]) to RGB bytes. */
function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/**
 * One generated image, row-major HWC: the class's colour (hue spaced around the wheel, offset
 * per dataset) modulated by stripes whose angle and frequency depend on the class, a random
 * phase, and uniform noise of +-24 per pixel.
 */
function classImage(
  rng: SeededRng,
  options: {
    classIndex: number;
    classCount: number;
    datasetIndex: number;
    size: number;
    channels: 1 | 3;
  },
): Uint8Array {
  const { classIndex, classCount, datasetIndex, size, channels } = options;
  const hue = (classIndex / Math.max(classCount, 1) + datasetIndex * 0.137) % 1;
  const base = channels === 3
    ? hsvToRgb(hue, 0.75, 0.9)
    : [40 + (200 * classIndex) / Math.max(classCount - 1, 1)];
  const angle = (Math.PI * classIndex) / Math.max(classCount, 2);
  const frequency = 1 + (classIndex % 3);
  const phase = rng.uniform(0, 2 * Math.PI);
  const pixels = new Uint8Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const along = (x * Math.cos(angle) + y * Math.sin(angle)) / size;
      const stripe = 0.65 + 0.35 * Math.sin(2 * Math.PI * frequency * along + phase);
      for (let c = 0; c < channels; c++) {
        const value = base[c]! * stripe + rng.uniform(-24, 24);
        pixels[(y * size + x) * channels + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return pixels;
}

async function jpeg(pixels: Uint8Array, size: number): Promise<Uint8Array> {
  const buffer = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 92 })
    .toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

const encoder = new TextEncoder();

class DatasetWriter {
  readonly rng: SeededRng;
  constructor(
    readonly root: string,
    readonly datasetIndex: number,
    readonly settings: Required<Omit<SyntheticMtilOptions, "datasets" | "render">>,
    readonly render: ClassRenderer | undefined,
  ) {
    // One stream per dataset, so writing a subset gives the same files for each dataset.
    this.rng = new SeededRng((settings.seed * 1000003 + datasetIndex * 7919) >>> 0);
  }

  async file(relative: string, bytes: Uint8Array | string): Promise<void> {
    const path = `${this.root}/${relative}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await writeFileAtomic(path, typeof bytes === "string" ? encoder.encode(bytes) : bytes);
  }

  /** One image of a class: the renderer's, or the default pattern. */
  pixels(classIndex: number, classCount: number, size: number, channels: 1 | 3): Uint8Array {
    const dataset = MTIL_DATASET_NAMES[this.datasetIndex]!;
    if (this.render !== undefined) {
      return this.render({ dataset, classIndex, size, channels, rng: this.rng });
    }
    const { datasetIndex } = this;
    return classImage(this.rng, { classIndex, classCount, datasetIndex, size, channels });
  }

  async image(relative: string, classIndex: number, classCount: number): Promise<void> {
    const size = this.settings.size;
    await this.file(relative, await jpeg(this.pixels(classIndex, classCount, size, 3), size));
  }

  /** [class, split] pairs in a seeded shuffled order, as real annotation files interleave them. */
  assignments(classCount: number, split: "train" | "test"): number[] {
    const perClass = split === "train"
      ? this.settings.imagesPerClass
      : this.settings.testImagesPerClass;
    const labels: number[] = [];
    for (let c = 0; c < classCount; c++) for (let i = 0; i < perClass; i++) labels.push(c);
    return this.rng.shuffle(labels);
  }

  get classes(): number {
    return this.settings.classesPerDataset;
  }
  get perClassTotal(): number {
    return this.settings.imagesPerClass + this.settings.testImagesPerClass;
  }
}

const WRITERS: Record<MtilDataset, (w: DatasetWriter) => Promise<void>> = {
  async Aircraft(w) {
    const names = classNamesFor(AIRCRAFT_VARIANTS, Math.min(w.classes, 100), "variant");
    await w.file("fgvc-aircraft-2013b/data/variants.txt", names.map((n) => `${n}\n`).join(""));
    let nextId = 1000001;
    for (const split of ["train", "test"] as const) {
      const lines: string[] = [];
      for (const label of w.assignments(names.length, split)) {
        const id = String(nextId++).padStart(7, "0");
        await w.image(`fgvc-aircraft-2013b/data/images/${id}.jpg`, label, names.length);
        lines.push(`${id} ${names[label]}\n`);
      }
      await w.file(`fgvc-aircraft-2013b/data/images_variant_${split}.txt`, lines.join(""));
    }
  },

  async Caltech101(w) {
    const categories = classNamesFor(CALTECH101_CATEGORIES, Math.min(w.classes, 101), "category");
    const folder = "caltech101/101_ObjectCategories";
    for (const [label, category] of categories.entries()) {
      for (let i = 1; i <= w.perClassTotal; i++) {
        await w.image(
          `${folder}/${category}/image_${String(i).padStart(4, "0")}.jpg`,
          label,
          categories.length,
        );
      }
    }
    // The clutter class torchvision drops.
    await w.image(`${folder}/BACKGROUND_Google/image_0001.jpg`, 0, 1);
  },

  async CIFAR100(w) {
    const names = classNamesFor(CIFAR100_CLASSES, Math.min(w.classes, 100), "class");
    const str = (text: string) => new PyBytes(encoder.encode(text));
    await w.file(
      "cifar-100-python/meta",
      encodePickle(
        new Map<unknown, unknown>([
          [str("fine_label_names"), names.map(str)],
          [str("coarse_label_names"), [str("synthetic")]],
        ]),
      ),
    );
    for (const split of ["train", "test"] as const) {
      const labels = w.assignments(names.length, split);
      // CIFAR stores each image channel-first: [n, 3 * 32 * 32].
      const data = new Uint8Array(labels.length * 3072);
      labels.forEach((label, index) => {
        const hwc = w.pixels(label, names.length, 32, 3);
        for (let p = 0; p < 1024; p++) {
          for (let c = 0; c < 3; c++) data[index * 3072 + c * 1024 + p] = hwc[p * 3 + c]!;
        }
      });
      const entry = new Map<unknown, unknown>([
        [str("filenames"), labels.map((_, i) => str(`synthetic_${split}_${i}.png`))],
        [str("batch_label"), str(`${split}ing batch 1 of 1`)],
        [str("fine_labels"), labels],
        [str("coarse_labels"), labels.map(() => 0)],
        [str("data"), uint8NdArray(data, [labels.length, 3072])],
      ]);
      await w.file(`cifar-100-python/${split}`, encodePickle(entry));
    }
  },

  async DTD(w) {
    const names = classNamesFor(DTD_CLASSES, Math.min(w.classes, 47), "texture");
    const lines: Record<string, string[]> = { train: [], test: [] };
    for (const [label, name] of names.entries()) {
      let n = 1;
      for (const split of ["train", "test"] as const) {
        const count = split === "train" ? w.settings.imagesPerClass : w.settings.testImagesPerClass;
        for (let i = 0; i < count; i++, n++) {
          const file = `${name}_${String(n).padStart(4, "0")}.jpg`;
          await w.image(`dtd/dtd/images/${name}/${file}`, label, names.length);
          lines[split]!.push(`${name}/${file}\n`);
        }
      }
    }
    await w.file("dtd/dtd/labels/train1.txt", lines.train!.join(""));
    await w.file("dtd/dtd/labels/test1.txt", lines.test!.join(""));
    await w.file("dtd/dtd/labels/val1.txt", "");
  },

  async EuroSAT(w) {
    const names = classNamesFor(EUROSAT_CLASSES, Math.min(w.classes, 10), "Class");
    for (const [label, name] of names.entries()) {
      for (let i = 1; i <= w.perClassTotal; i++) {
        await w.image(`eurosat/2750/${name}/${name}_${i}.jpg`, label, names.length);
      }
    }
  },

  async Flowers(w) {
    const classCount = Math.min(w.classes, 102);
    // Image ids 1..N in a shuffled class order; trnid / tstid list them per split.
    const labels: number[] = [];
    const splitOf: ("train" | "test")[] = [];
    for (let c = 0; c < classCount; c++) {
      for (let i = 0; i < w.perClassTotal; i++) {
        labels.push(c);
        splitOf.push(i < w.settings.imagesPerClass ? "train" : "test");
      }
    }
    const order = w.rng.shuffle(labels.map((_, i) => i));
    const imageLabels: number[] = [];
    const ids = { train: [] as number[], test: [] as number[] };
    for (const [position, source] of order.entries()) {
      const id = position + 1;
      imageLabels.push(labels[source]! + 1);
      ids[splitOf[source]!].push(id);
      await w.image(
        `flowers-102/jpg/image_${String(id).padStart(5, "0")}.jpg`,
        labels[source]!,
        classCount,
      );
    }
    await w.file(
      "flowers-102/imagelabels.mat",
      encodeMat({ labels: mat.row(imageLabels, "uint8") }),
    );
    await w.file(
      "flowers-102/setid.mat",
      encodeMat({
        trnid: mat.row(ids.train, "uint16"),
        valid: mat.row([], "uint16"),
        tstid: mat.row(ids.test, "uint16"),
      }),
    );
  },

  async Food(w) {
    const names = classNamesFor(FOOD_CLASSES, Math.min(w.classes, 101), "dish");
    const meta: Record<string, Record<string, string[]>> = { train: {}, test: {} };
    let nextId = 100001;
    for (const [label, name] of names.entries()) {
      for (const split of ["train", "test"] as const) {
        const count = split === "train" ? w.settings.imagesPerClass : w.settings.testImagesPerClass;
        const list: string[] = (meta[split]![name] = []);
        for (let i = 0; i < count; i++) {
          const id = String(nextId++);
          await w.image(`food-101/images/${name}/${id}.jpg`, label, names.length);
          list.push(`${name}/${id}`);
        }
      }
    }
    await w.file("food-101/meta/classes.txt", names.map((n) => `${n}\n`).join(""));
    await w.file(
      "food-101/meta/labels.txt",
      names.map((n) => `${n.replaceAll("_", " ")}\n`).join(""),
    );
    await w.file("food-101/meta/train.json", JSON.stringify(meta.train));
    await w.file("food-101/meta/test.json", JSON.stringify(meta.test));
  },

  async MNIST(w) {
    const classCount = Math.min(w.classes, 10);
    for (const [split, prefix] of [["train", "train"], ["test", "t10k"]] as const) {
      const labels = w.assignments(classCount, split);
      const side = 28;
      const images = new Uint8Array(labels.length * side * side);
      labels.forEach((label, index) => {
        images.set(w.pixels(label, classCount, side, 1), index * side * side);
      });
      await w.file(
        `MNIST/raw/${prefix}-images-idx3-ubyte`,
        encodeIdxUint8(images, [labels.length, side, side]),
      );
      await w.file(
        `MNIST/raw/${prefix}-labels-idx1-ubyte`,
        encodeIdxUint8(Uint8Array.from(labels), [labels.length]),
      );
    }
  },

  async OxfordPet(w) {
    const breeds = classNamesFor(PET_BREEDS, Math.min(w.classes, 37), "breed");
    const lines: Record<string, string[]> = { train: [], test: [] };
    for (const [label, breed] of breeds.entries()) {
      // Cat breeds are capitalised in the real files (species 1), dog breeds not (species 2).
      const species = /^[A-Z]/.test(breed) ? 1 : 2;
      let n = 1;
      for (const split of ["train", "test"] as const) {
        const count = split === "train" ? w.settings.imagesPerClass : w.settings.testImagesPerClass;
        for (let i = 0; i < count; i++, n++) {
          const id = `${breed}_${n}`;
          await w.image(`oxford-iiit-pet/images/${id}.jpg`, label, breeds.length);
          lines[split]!.push(`${id} ${label + 1} ${species} ${label + 1}\n`);
        }
      }
    }
    await w.file("oxford-iiit-pet/annotations/trainval.txt", lines.train!.join(""));
    await w.file("oxford-iiit-pet/annotations/test.txt", lines.test!.join(""));
  },

  async StanfordCars(w) {
    const names = classNamesFor(CAR_CLASSES, Math.min(w.classes, 196), "car");
    await w.file(
      "stanford_cars/devkit/cars_meta.mat",
      encodeMat({ class_names: mat.cellRow(names.map(mat.string)) }, { compress: true }),
    );
    for (const split of ["train", "test"] as const) {
      const folder = split === "train" ? "cars_train" : "cars_test";
      const elements: Map<string, MatValue>[] = [];
      for (const [index, label] of w.assignments(names.length, split).entries()) {
        const fname = `${String(index + 1).padStart(5, "0")}.jpg`;
        await w.image(`stanford_cars/${folder}/${fname}`, label, names.length);
        const size = w.settings.size;
        elements.push(
          new Map<string, MatValue>([
            ["bbox_x1", mat.scalar(1, "uint8")],
            ["bbox_y1", mat.scalar(1, "uint8")],
            ["bbox_x2", mat.scalar(size, "uint16")],
            ["bbox_y2", mat.scalar(size, "uint16")],
            ["class", mat.scalar(label + 1, "uint8")],
            ["fname", mat.string(fname)],
          ]),
        );
      }
      const annotations = mat.structRow(
        ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"],
        elements,
      );
      const path = split === "train"
        ? "stanford_cars/devkit/cars_train_annos.mat"
        : "stanford_cars/cars_test_annos_withlabels.mat";
      await w.file(path, encodeMat({ annotations }, { compress: true }));
    }
  },

  async SUN397(w) {
    const classes = classNamesFor(SUN_CLASSES, Math.min(w.classes, 397), "/s/scene");
    await w.file("SUN397/ClassName.txt", classes.map((c) => `${c}\n`).join(""));
    for (const [label, path] of classes.entries()) {
      for (let i = 0; i < w.perClassTotal; i++) {
        // Real files are named sun_<16 random letters>.jpg.
        const letters = Array.from(
          { length: 16 },
          () => String.fromCharCode(97 + w.rng.nextInt(26)),
        );
        await w.image(`SUN397${path}/sun_${letters.join("")}.jpg`, label, classes.length);
      }
    }
  },
};

/**
 * Writes the synthetic copies under `root` (created if needed). A dataset folder that exists
 * and was not written by this function is left alone: that is a UserError, never an overwrite.
 */
export async function writeSyntheticMtil(
  root: string,
  options: SyntheticMtilOptions,
): Promise<void> {
  const settings = {
    seed: options.seed,
    classesPerDataset: options.classesPerDataset ?? 3,
    imagesPerClass: options.imagesPerClass ?? 4,
    testImagesPerClass: options.testImagesPerClass ?? options.imagesPerClass ?? 4,
    size: options.size ?? 32,
  };
  if (!Number.isInteger(settings.classesPerDataset) || settings.classesPerDataset < 1) {
    throw new RangeError(`writeSyntheticMtil: classesPerDataset must be >= 1`);
  }
  if (settings.imagesPerClass < 0 || settings.testImagesPerClass < 0 || settings.size < 1) {
    throw new RangeError(`writeSyntheticMtil: counts must be >= 0 and size >= 1`);
  }
  await Deno.mkdir(root, { recursive: true });
  for (const name of options.datasets ?? MTIL_DATASET_NAMES) {
    const folder = `${root}/${mtilDataset(name).folder}`;
    await clearSyntheticFolder(folder);
    const index = MTIL_DATASET_NAMES.indexOf(name);
    const writer = new DatasetWriter(root, index, settings, options.render);
    await WRITERS[name](writer);
    await writer.file(
      `${mtilDataset(name).folder}/${SYNTHETIC_MARKER}`,
      JSON.stringify(settings) + "\n",
    );
  }
}

async function clearSyntheticFolder(folder: string): Promise<void> {
  try {
    await Deno.stat(folder);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  try {
    await Deno.stat(`${folder}/${SYNTHETIC_MARKER}`);
  } catch {
    throw new UserError(
      `Cannot write synthetic data: ${folder} exists and is not synthetic ` +
        `(no ${SYNTHETIC_MARKER}); choose another root`,
    );
  }
  await Deno.remove(folder, { recursive: true });
}
