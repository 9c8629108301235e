/**
 * Image sets and their on-disk format: a set of images of one dataset split as one uint8 tensor
 * `[N, size, size, 3]` with int32 labels, the positions of its samples in the split, their paths
 * and the class names; written into a folder as `images.npy`, `labels.npy`, `indices.npy` and
 * `meta.json` (every file atomically, the meta file last), and read back whole (`readImageSet`,
 * `readPrepared`) or in batches (`PreparedSplitReader`, for test splits larger than memory). The
 * `prepare` stage stores its splits this way, the `fewshot` stage its training sets
 * (fewshot_set.ts).
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { NpyRowReader, npyToInt32, readNpy, writeNpy } from "../io/npy.ts";
import type { DatasetSplit, Split } from "./datasets/registry.ts";

/** A set of images of one dataset split, decoded into one uint8 tensor. */
export interface ImageSet {
  dataset: string;
  split: Split;
  /** Side of the square images in pixels. */
  size: number;
  /** Class names as the benchmark prompts with them; labels index into this list. */
  classNames: string[];
  /** `[count, size, size, 3]` uint8 RGB, row-major HWC per image; null = not stored. */
  images: Uint8Array | null;
  labels: Int32Array; // [count]
  /** Where each image sits in the split's sample order (the reader's deterministic order). */
  sampleIndices: Int32Array; // [count]
  /** Each image's path relative to the data root (`<file>#<index>` for array datasets). */
  paths: string[];
}

/** A test (or train) split in CLIP's eval preprocessing, ready for `evaluate`. */
export interface PreparedSplit extends ImageSet {
  images: Uint8Array;
}

/**
 * The image set of the samples at `sampleIndices` of `split`, with `images` decoded from them in
 * that order (`[sampleIndices.length, size, size, 3]`, or null when not stored).
 */
export function imageSetOf<Images extends Uint8Array | null>(
  split: DatasetSplit,
  set: { sampleIndices: Int32Array; size: number; images: Images },
): ImageSet & { images: Images } {
  const { sampleIndices } = set;
  return {
    dataset: split.dataset,
    split: split.split,
    size: set.size,
    classNames: [...split.classNames],
    images: set.images,
    labels: Int32Array.from(sampleIndices, (index) => split.samples[index]!.label),
    sampleIndices,
    paths: Array.from(sampleIndices, (index) => split.samples[index]!.path),
  };
}

const SET_FORMAT = "rankone-image-set";
const SET_VERSION = 1;
/** The file whose presence marks an image set folder complete. */
export const IMAGE_SET_META_FILE = "meta.json";
const IMAGES_FILE = "images.npy";
const LABELS_FILE = "labels.npy";
const INDICES_FILE = "indices.npy";

interface SetMeta {
  format: string;
  version: number;
  dataset: string;
  split: Split;
  size: number;
  count: number;
  hasImages: boolean;
  classNames: string[];
  paths: string[];
  extra: Record<string, unknown>;
}

/**
 * Writes an image set into folder `dir` (created if needed): `images.npy` (uint8
 * `[count, size, size, 3]`, when stored), `labels.npy` and `indices.npy` (int32 `[count]`) and
 * `meta.json` (dataset, split, size, class names, paths and `extra`, e.g. few-shot parameters).
 * Each file is written to a temp name and renamed; `meta.json` last, so a folder with a meta file
 * is complete.
 */
export async function writeImageSet(
  dir: string,
  set: ImageSet,
  options: { extra?: Record<string, unknown> } = {},
): Promise<void> {
  const count = set.labels.length;
  if (set.sampleIndices.length !== count || set.paths.length !== count) {
    throw new RangeError(`writeImageSet: labels, indices and paths differ in length`);
  }
  await Deno.mkdir(dir, { recursive: true });
  if (set.images !== null) {
    await writeNpy(`${dir}/${IMAGES_FILE}`, {
      dtype: "uint8",
      shape: [count, set.size, set.size, 3],
      data: set.images,
    });
  }
  await writeNpy(`${dir}/${LABELS_FILE}`, { dtype: "int32", shape: [count], data: set.labels });
  await writeNpy(`${dir}/${INDICES_FILE}`, {
    dtype: "int32",
    shape: [count],
    data: set.sampleIndices,
  });
  const meta: SetMeta = {
    format: SET_FORMAT,
    version: SET_VERSION,
    dataset: set.dataset,
    split: set.split,
    size: set.size,
    count,
    hasImages: set.images !== null,
    classNames: set.classNames,
    paths: set.paths,
    extra: options.extra ?? {},
  };
  await writeFileAtomic(
    `${dir}/${IMAGE_SET_META_FILE}`,
    new TextEncoder().encode(JSON.stringify(meta)),
  );
}

function readMeta(path: string, text: string): SetMeta {
  let meta: Partial<SetMeta>;
  try {
    meta = JSON.parse(text);
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const valid = meta.format === SET_FORMAT && meta.version === SET_VERSION &&
    typeof meta.dataset === "string" && (meta.split === "train" || meta.split === "test") &&
    Number.isInteger(meta.size) && Number.isInteger(meta.count) &&
    typeof meta.hasImages === "boolean" && Array.isArray(meta.classNames) &&
    Array.isArray(meta.paths) && meta.paths.length === meta.count &&
    typeof meta.extra === "object" && meta.extra !== null;
  if (!valid) {
    throw new UserError(
      `Cannot read ${path}: not a ${SET_FORMAT} v${SET_VERSION} file (missing or bad fields)`,
    );
  }
  return meta as SetMeta;
}

/** `meta.json`, `labels.npy` and `indices.npy` of an image set folder, checked. */
async function readSetIndex(
  dir: string,
): Promise<{ meta: SetMeta; labels: Int32Array; sampleIndices: Int32Array }> {
  const metaPath = `${dir}/${IMAGE_SET_META_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(metaPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`Cannot read image set ${dir}: ${IMAGE_SET_META_FILE} is missing`, {
        cause: error,
      });
    }
    throw error;
  }
  const meta = readMeta(metaPath, text);
  const { count } = meta;
  const vector = async (file: string) => {
    const path = `${dir}/${file}`;
    const array = await readNpy(path);
    if (array.shape.length !== 1 || array.shape[0] !== count) {
      throw new UserError(
        `Cannot read ${path}: shape [${array.shape.join(", ")}], expected [${count}]`,
      );
    }
    return npyToInt32(array, path);
  };
  const labels = await vector(LABELS_FILE);
  const sampleIndices = await vector(INDICES_FILE);
  const bad = labels.findIndex((label) => label < 0 || label >= meta.classNames.length);
  if (bad >= 0) {
    throw new UserError(
      `Cannot read ${dir}/${LABELS_FILE}: label ${labels[bad]} at ${bad} is outside ` +
        `0..${meta.classNames.length - 1}`,
    );
  }
  return { meta, labels, sampleIndices };
}

/** Checks that `images.npy` holds uint8 `[count, size, size, 3]` as `meta.json` says. */
function checkImages(
  path: string,
  meta: SetMeta,
  found: { dtype: string; shape: readonly number[] },
) {
  const expected = [meta.count, meta.size, meta.size, 3];
  if (found.dtype !== "uint8" || found.shape.join(",") !== expected.join(",")) {
    throw new UserError(
      `Cannot read ${path}: ${found.dtype} [${found.shape.join(", ")}], expected uint8 ` +
        `[${expected.join(", ")}]`,
    );
  }
}

function setOf(
  index: { meta: SetMeta; labels: Int32Array; sampleIndices: Int32Array },
): Omit<ImageSet, "images"> {
  const { meta, labels, sampleIndices } = index;
  return {
    dataset: meta.dataset,
    split: meta.split,
    size: meta.size,
    classNames: meta.classNames,
    labels,
    sampleIndices,
    paths: meta.paths,
  };
}

/** Reads a folder written by `writeImageSet`, checking every shape against `meta.json`. */
export async function readImageSet(
  dir: string,
): Promise<{ set: ImageSet; extra: Record<string, unknown> }> {
  const index = await readSetIndex(dir);
  let images: Uint8Array | null = null;
  if (index.meta.hasImages) {
    const path = `${dir}/${IMAGES_FILE}`;
    const array = await readNpy(path);
    checkImages(path, index.meta, array);
    images = array.data as Uint8Array;
  }
  return { set: { ...setOf(index), images }, extra: index.meta.extra };
}

/**
 * A prepared split read in batches: labels, class names and paths at once, images from
 * `images.npy` on demand, so a split larger than memory (Food101's test split: 3.8 GB at
 * 224 px) streams through evaluation. Close it when done (`using` works too).
 */
export class PreparedSplitReader implements Disposable {
  readonly dataset: string;
  readonly split: Split;
  /** Side of the square images in pixels. */
  readonly size: number;
  readonly classNames: string[];
  readonly labels: Int32Array; // [count]
  readonly sampleIndices: Int32Array; // [count]
  readonly paths: string[];
  #images: NpyRowReader;

  private constructor(set: Omit<ImageSet, "images">, images: NpyRowReader) {
    this.dataset = set.dataset;
    this.split = set.split;
    this.size = set.size;
    this.classNames = set.classNames;
    this.labels = set.labels;
    this.sampleIndices = set.sampleIndices;
    this.paths = set.paths;
    this.#images = images;
  }

  /** Opens a folder written by `writePrepared`, checking `images.npy`'s header against it. */
  static async open(dir: string): Promise<PreparedSplitReader> {
    const index = await readSetIndex(dir);
    const path = `${dir}/${IMAGES_FILE}`;
    if (!index.meta.hasImages) {
      throw new UserError(`Cannot read prepared split ${dir}: ${IMAGES_FILE} was not stored`);
    }
    const images = await NpyRowReader.open(path);
    try {
      checkImages(path, index.meta, images);
    } catch (error) {
      images.close();
      throw error;
    }
    return new PreparedSplitReader(setOf(index), images);
  }

  /** Images in the split. */
  get count(): number {
    return this.labels.length;
  }

  /** Images `[start, end)`: uint8 `[end - start, size, size, 3]`. */
  readImages(start: number, end: number): Promise<Uint8Array> {
    return this.#images.readRows(start, end);
  }

  close(): void {
    this.#images.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Writes a prepared split (see `writeImageSet`). */
export async function writePrepared(dir: string, prepared: PreparedSplit): Promise<void> {
  await writeImageSet(dir, prepared);
}

/** Reads a prepared split written by `writePrepared`; a folder without images is an error. */
export async function readPrepared(dir: string): Promise<PreparedSplit> {
  const { set } = await readImageSet(dir);
  if (set.images === null) {
    throw new UserError(`Cannot read prepared split ${dir}: ${IMAGES_FILE} was not stored`);
  }
  return { ...set, images: set.images };
}
