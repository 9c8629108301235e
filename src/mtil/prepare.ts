/**
 * Decoded, preprocessed image sets: a dataset split turned ONCE into a compact uint8 tensor
 * `[N, size, size, 3]` (CLIP's eval geometry: shortest side to `size`, bicubic, centre crop) with
 * int32 labels and the class names, so the 12 evaluation rounds of an MTIL run never decode an
 * image twice; and the few-shot training set, each image decoded and augmented
 * (RandomResizedCrop, scale 0.9-1.0, bicubic) once and stored the same way.
 *
 * Pure compute: inputs in, typed arrays out. Storing them is the caller's (the stages'), through
 * `writeImageSet` / `readImageSet` (.npy + JSON, every file written atomically).
 */
import { UserError } from "../errors.ts";
import {
  decodeImage,
  preprocessToUint8,
  randomResizedCrop,
  rgbFromPixels,
  type RgbImage,
} from "../io/image.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { NpyRowReader, npyToInt32, readNpy, writeNpy } from "../io/npy.ts";
import { SeededRng } from "../io/rng.ts";
import {
  type DatasetSplit,
  mtilDataset,
  readDatasetSplit,
  type Sample,
  type Split,
} from "./datasets/registry.ts";
import { fewShotIndices } from "./fewshot.ts";

/** Images decoded at once; sharp decodes on its own threads while the JS resize runs. */
export const DEFAULT_DECODE_CONCURRENCY = 4;

/** The train-time augmentation of the method as released: RandomResizedCrop(size, 0.9-1.0). */
export const FEW_SHOT_CROP_SCALE: readonly [number, number] = [0.9, 1.0];

/** Called after each image: `done` of `total` images processed. */
export type ProgressCallback = (done: number, total: number) => void;

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

export interface PrepareOptions {
  /** Square side to resize + centre-crop to (the model's image size: 224 for ViT-B/16). */
  size: number;
  /**
   * At most this many images, chosen by `balancedSubset` (deterministic, class-balanced; meant
   * for quick runs whose numbers are not comparable to full-split ones). Absent = every image.
   */
  limit?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Images decoded at once; default DEFAULT_DECODE_CONCURRENCY. */
  concurrency?: number;
}

// ---- subsets -------------------------------------------------------------------------------------

/**
 * A deterministic, class-balanced subset of at most `limit` samples, as positions in split order
 * (ascending). Classes are visited round-robin in label order, each round taking every class's
 * next sample in split order, until `limit` are taken: per-class counts differ by at most one
 * (lower labels get the extra image) unless a class runs out of samples.
 */
export function balancedSubset(labels: ArrayLike<number>, limit: number): Int32Array {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UserError(`The image limit must be a positive integer, got ${limit}`);
  }
  if (limit >= labels.length) return Int32Array.from({ length: labels.length }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let index = 0; index < labels.length; index++) {
    const label = labels[index]!;
    const members = byClass.get(label);
    if (members === undefined) byClass.set(label, [index]);
    else members.push(index);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const chosen: number[] = [];
  for (let round = 0; chosen.length < limit; round++) {
    for (const label of classes) {
      const index = byClass.get(label)![round];
      if (index === undefined) continue;
      chosen.push(index);
      if (chosen.length === limit) break;
    }
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

// ---- decoding ------------------------------------------------------------------------------------

/** The layout line of a dataset for error messages, or null for names the registry lacks. */
function layoutOf(dataset: string): string | null {
  try {
    return mtilDataset(dataset).layout;
  } catch {
    return null;
  }
}

/** One sample as RGB: a file decoded, or a slice of an array file. Errors name the file. */
export async function loadSample(split: DatasetSplit, sample: Sample): Promise<RgbImage> {
  if (sample.kind === "array") {
    const { height, width, channels, pixels } = sample.images;
    const bytes = height * width * channels;
    return rgbFromPixels(pixels.subarray(sample.index * bytes, (sample.index + 1) * bytes), {
      width,
      height,
      channels,
    });
  }
  const path = `${split.root.replace(/\/+$/, "")}/${sample.path}`;
  try {
    return await decodeImage(path);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    const layout = layoutOf(split.dataset);
    throw new UserError(
      `${split.dataset} (${split.split} split): ${error.message}` +
        (layout === null ? "" : ` (torchvision layout ${layout})`),
      { cause: error },
    );
  }
}

/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight. The first failure (or an abort)
 * stops new tasks and is rethrown once those in flight have settled.
 */
async function forEachConcurrent(
  count: number,
  task: (index: number) => Promise<void>,
  options: { concurrency: number; signal?: AbortSignal },
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      options.signal?.throwIfAborted();
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency, count)) }, worker);
  const results = await Promise.allSettled(workers);
  const rejected = results.find((result) => result.status === "rejected");
  if (rejected !== undefined) throw (rejected as PromiseRejectedResult).reason;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new UserError(`The image size must be a positive integer, got ${size}`);
  }
}

/**
 * Decodes the samples at `indices` of `split` and turns each into `size x size x 3` uint8 with
 * `transform`, in index order, into one `[indices.length, size, size, 3]` tensor.
 */
async function decodeInto(
  split: DatasetSplit,
  indices: Int32Array,
  transform: (image: RgbImage, position: number) => Uint8Array,
  options: PrepareOptions,
): Promise<Uint8Array> {
  const { size } = options;
  const imageBytes = size * size * 3;
  const images = new Uint8Array(indices.length * imageBytes); // [count, size, size, 3]
  let done = 0;
  await forEachConcurrent(indices.length, async (position) => {
    const sample = split.samples[indices[position]!];
    if (sample === undefined) {
      throw new RangeError(`sample index ${indices[position]} is outside ${split.dataset}`);
    }
    const pixels = transform(await loadSample(split, sample), position);
    images.set(pixels, position * imageBytes);
    done += 1;
    options.onProgress?.(done, indices.length);
  }, {
    concurrency: options.concurrency ?? DEFAULT_DECODE_CONCURRENCY,
    signal: options.signal,
  });
  return images;
}

function labelsAt(split: DatasetSplit, indices: Int32Array): Int32Array {
  return Int32Array.from(indices, (index) => split.samples[index]!.label);
}

/**
 * CLIP's eval preprocessing of an already-read split (see `prepareSplit`): every image (or the
 * `limit` subset) decoded once, resized + centre-cropped to `size`, stored as uint8.
 */
export async function prepareSamples(
  split: DatasetSplit,
  options: PrepareOptions,
): Promise<PreparedSplit> {
  checkSize(options.size);
  const allLabels = split.samples.map((sample) => sample.label);
  const sampleIndices = options.limit === undefined
    ? Int32Array.from(allLabels, (_, i) => i)
    : balancedSubset(allLabels, options.limit);
  const images = await decodeInto(
    split,
    sampleIndices,
    (image) => preprocessToUint8(image, options.size),
    options,
  );
  return {
    dataset: split.dataset,
    split: split.split,
    size: options.size,
    classNames: [...split.classNames],
    images,
    labels: labelsAt(split, sampleIndices),
    sampleIndices,
    paths: Array.from(sampleIndices, (index) => split.samples[index]!.path),
  };
}

/**
 * Reads split `split` of `dataset` under the data root and prepares it (see `prepareSamples`).
 * A missing layout or an undecodable image is a UserError naming the dataset and the file.
 */
export async function prepareSplit(
  root: string,
  options: PrepareOptions & { dataset: string; split: Split },
): Promise<PreparedSplit> {
  const split = await readDatasetSplit(root, options.dataset, options.split);
  return await prepareSamples(split, options);
}

// ---- augmentation --------------------------------------------------------------------------------

export interface AugmentOptions {
  size: number;
  /**
   * Seeds the crops: sample position p draws its crop from the p-th generator forked from
   * `new SeededRng(seed)`, so the result does not depend on decoding order or concurrency.
   */
  seed: number;
  /** Area fraction range of the crop; default FEW_SHOT_CROP_SCALE (0.9-1.0). */
  scale?: readonly [number, number];
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  concurrency?: number;
}

/**
 * The training augmentation applied to the samples at `indices` of `split`: each decoded and
 * cropped with RandomResizedCrop(size, scale, bicubic), returned as uint8
 * `[indices.length, size, size, 3]` in index order. The few-shot set calls it once; a full-shot
 * run (shots = 0) calls it per batch with a new seed per epoch.
 */
export async function augmentSamples(
  split: DatasetSplit,
  indices: Int32Array,
  options: AugmentOptions,
): Promise<Uint8Array> {
  checkSize(options.size);
  const parent = new SeededRng(options.seed);
  const rngs = Array.from(indices, () => parent.fork());
  const scale = options.scale ?? FEW_SHOT_CROP_SCALE;
  return await decodeInto(
    split,
    indices,
    (image, position) =>
      randomResizedCrop(image, options.size, { scale, rng: rngs[position]! }).data,
    options,
  );
}

/** How few-shot images are turned into `size x size`: the release's train crop, or eval's. */
export type FewShotAugment = "random-resized-crop" | "center-crop";

export interface FewShotOptions {
  dataset: string;
  /** Images per class; 0 = the full train split, augmented per epoch (`augmentSamples`). */
  shots: number;
  /** Seeds both the draw (torch.randperm) and the crops. */
  seed: number;
  size: number;
  /** Default "random-resized-crop" (scale 0.9-1.0, bicubic), as the method was released. */
  augment?: FewShotAugment;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  concurrency?: number;
}

/**
 * A task's training images. For shots > 0 `images` holds the drawn samples augmented once, in
 * draw order; for shots = 0 it is null and `sampleIndices` lists the whole train split: the
 * trainer reads the split once (`readDatasetSplit`) and calls `augmentSamples` per batch with
 * `epochSeed(seed, epoch)`.
 */
export interface FewShotSet extends ImageSet {
  split: "train";
  shots: number;
  seed: number;
  augment: FewShotAugment;
}

/**
 * The few-shot training set of `dataset` under the data root: the first `shots` images per class
 * of one seeded shuffled pass over the train split (`fewShotIndices`), each decoded and augmented
 * ONCE and stored as uint8 `[shots * classes, size, size, 3]` (fewer where a class has fewer
 * images). The same (split, shots, seed, size) gives the same bytes.
 */
export async function buildFewShotSet(
  root: string,
  options: FewShotOptions,
): Promise<FewShotSet> {
  checkSize(options.size);
  if (!Number.isInteger(options.shots) || options.shots < 0) {
    throw new UserError(`shots must be an integer >= 0, got ${options.shots}`);
  }
  const augment = options.augment ?? "random-resized-crop";
  const split = await readDatasetSplit(root, options.dataset, "train");
  const sampleIndices = Int32Array.from(
    fewShotIndices(split, { shots: options.shots, seed: options.seed }),
  );
  let images: Uint8Array | null = null;
  if (options.shots > 0) {
    images = augment === "random-resized-crop"
      ? await augmentSamples(split, sampleIndices, { ...options, seed: options.seed })
      : await decodeInto(
        split,
        sampleIndices,
        (image) => preprocessToUint8(image, options.size),
        options,
      );
  }
  return {
    dataset: split.dataset,
    split: "train",
    size: options.size,
    classNames: [...split.classNames],
    images,
    labels: labelsAt(split, sampleIndices),
    sampleIndices,
    paths: Array.from(sampleIndices, (index) => split.samples[index]!.path),
    shots: options.shots,
    seed: options.seed,
    augment,
  };
}

/**
 * The crop seed of one epoch of full-shot training: distinct per (seed, epoch), so every epoch
 * sees new crops and a rerun sees the same ones.
 */
export function epochSeed(seed: number, epoch: number): number {
  const mixer = new SeededRng((Math.trunc(seed) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  return mixer.nextUint32();
}

// ---- storage -------------------------------------------------------------------------------------

const SET_FORMAT = "rankone-image-set";
const SET_VERSION = 1;
const META_FILE = "meta.json";
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
  await writeFileAtomic(`${dir}/${META_FILE}`, new TextEncoder().encode(JSON.stringify(meta)));
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
  const metaPath = `${dir}/${META_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(metaPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`Cannot read image set ${dir}: ${META_FILE} is missing`, {
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

/** Writes a few-shot set (see `writeImageSet`); shots, seed and augment go into `meta.json`. */
export async function writeFewShotSet(dir: string, set: FewShotSet): Promise<void> {
  await writeImageSet(dir, set, {
    extra: { shots: set.shots, seed: set.seed, augment: set.augment },
  });
}

/** Reads a few-shot set written by `writeFewShotSet`. */
export async function readFewShotSet(dir: string): Promise<FewShotSet> {
  const { set, extra } = await readImageSet(dir);
  const { shots, seed, augment } = extra;
  const valid = set.split === "train" && Number.isInteger(shots) && Number.isInteger(seed) &&
    (augment === "random-resized-crop" || augment === "center-crop") &&
    (set.images === null) === (shots === 0);
  if (!valid) {
    throw new UserError(
      `Cannot read few-shot set ${dir}: ${META_FILE} lacks valid shots, seed and augment`,
    );
  }
  return {
    ...set,
    split: "train",
    shots: shots as number,
    seed: seed as number,
    augment: augment as FewShotAugment,
  };
}
