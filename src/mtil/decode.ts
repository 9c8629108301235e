/**
 * Dataset samples to pixels: one sample decoded (a file through sharp, or a slice of an array
 * file; errors name the dataset, the file and the torchvision layout), and many at once, in a
 * bounded pool, into one uint8 tensor `[count, size, size, 3]` in index order, either with CLIP's
 * eval geometry (shortest side to `size`, bicubic, centre crop) or with the release's training
 * augmentation (RandomResizedCrop(size, scale 0.9-1.0, bicubic)), seeded per sample position.
 */
import { UserError } from "../errors.ts";
import { forEachConcurrent } from "../io/concurrent.ts";
import {
  decodeImage,
  preprocessToUint8,
  randomResizedCrop,
  rgbFromPixels,
  type RgbImage,
} from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { type DatasetSplit, mtilDataset, type Sample } from "./datasets/registry.ts";

/** Images decoded at once; sharp decodes on its own threads while the JS resize runs. */
export const DEFAULT_DECODE_CONCURRENCY = 4;

/** The train-time augmentation of the method as released: RandomResizedCrop(size, 0.9-1.0). */
export const FEW_SHOT_CROP_SCALE: readonly [number, number] = [0.9, 1.0];

/** Called after each image: `done` of `total` images processed. */
export type ProgressCallback = (done: number, total: number) => void;

export interface DecodeOptions {
  /** Square side of the output images in pixels. */
  size: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Images decoded at once; default DEFAULT_DECODE_CONCURRENCY. */
  concurrency?: number;
}

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

/** Throws a UserError unless `size` is a positive integer image side. */
export function checkImageSize(size: number): void {
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
  options: DecodeOptions,
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

/**
 * CLIP's eval preprocessing of the samples at `indices` of `split`: each decoded, its shortest
 * side resized to `size` (bicubic) and centre-cropped, returned as uint8
 * `[indices.length, size, size, 3]` in index order.
 */
export async function preprocessSamples(
  split: DatasetSplit,
  indices: Int32Array,
  options: DecodeOptions,
): Promise<Uint8Array> {
  checkImageSize(options.size);
  return await decodeInto(
    split,
    indices,
    (image) => preprocessToUint8(image, options.size),
    options,
  );
}

export interface AugmentOptions extends DecodeOptions {
  /**
   * Seeds the crops: sample position p draws its crop from the p-th generator forked from
   * `new SeededRng(seed)`, so the result does not depend on decoding order or concurrency.
   */
  seed: number;
  /** Area fraction range of the crop; default FEW_SHOT_CROP_SCALE (0.9-1.0). */
  scale?: readonly [number, number];
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
  checkImageSize(options.size);
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

/**
 * The crop seed of one epoch of full-shot training: distinct per (seed, epoch), so every epoch
 * sees new crops and a rerun sees the same ones.
 */
export function epochSeed(seed: number, epoch: number): number {
  const mixer = new SeededRng((Math.trunc(seed) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  return mixer.nextUint32();
}
