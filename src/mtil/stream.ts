/**
 * Full-shot training images streamed from the dataset on disk: instead of one stored, augmented
 * copy of the whole train split (tens of GB for SUN397 at 224 px), each batch is decoded when the
 * training loop asks for it and augmented anew per epoch, as the release's data loader does
 * (RandomResizedCrop(size, scale 0.9-1.0, bicubic), ToTensor, Normalize).
 *
 * Crops are seeded per sample, not per batch: for epoch `e`, the sample at position `p` of the
 * training set draws its crop from the p-th generator forked from `new SeededRng(epochSeed(seed,
 * e))`, exactly as `augmentSamples(split, sampleIndices, { seed: epochSeed(seed, e) })` seeds its
 * p-th image. A batch's pixels therefore depend only on (seed, epoch, its indices), not on which
 * other samples share the batch, on decode order or on prefetching.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { forEachConcurrent } from "../io/concurrent.ts";
import { normalizeUint8, randomResizedCrop } from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { type DatasetSplit, readDatasetSplit } from "./datasets/registry.ts";
import {
  DEFAULT_DECODE_CONCURRENCY,
  epochSeed,
  FEW_SHOT_CROP_SCALE,
  loadSample,
} from "./decode.ts";

export interface StreamOptions {
  /**
   * The training set as positions in the split's sample order, in the order the few-shot artifact
   * lists them (`sampleIndices` of its image set). Batch indices index into this list.
   */
  sampleIndices: ArrayLike<number>;
  /** Square side of the crops (the model's image size). */
  size: number;
  /** Seeds the crops: epoch `e` uses `epochSeed(seed, e)`. */
  seed: number;
  /** Area fraction range of the crop; default FEW_SHOT_CROP_SCALE (0.9-1.0). */
  scale?: readonly [number, number];
  /**
   * The labels the few-shot artifact stored with `sampleIndices`. When given, they are checked
   * against the split as read now, so a data root changed since the artifact was built is an
   * error rather than silently mislabelled training.
   */
  expectedLabels?: ArrayLike<number>;
  /** Images decoded at once within a batch; default DEFAULT_DECODE_CONCURRENCY. */
  concurrency?: number;
  /** Stops decoding (a batch in progress rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Normalised pixels of one batch, not yet a tensor: `[count, 3, size, size]` row-major. */
interface PendingBatch {
  key: string;
  pixels: Promise<Float32Array>;
}

/**
 * A training set read from a dataset split on demand. Structurally a `StreamedImages`
 * (src/method/train.ts): `trainTask` takes it in place of an in-memory few-shot set.
 */
export class StreamedSplitImages {
  readonly labels: Int32Array; // [N]
  readonly classNames: readonly string[];
  readonly size: number;
  readonly #split: DatasetSplit;
  readonly #sampleIndices: Int32Array; // [N] positions in the split
  readonly #seed: number;
  readonly #scale: readonly [number, number];
  readonly #concurrency: number;
  readonly #signal: AbortSignal | undefined;
  /** Fork seeds of the last epochs asked for: [N] each, so no epoch re-derives them per batch. */
  #forkSeeds = new Map<number, Uint32Array>();
  /** At most one batch decoded ahead (`prefetch`), so memory stays at two batches. */
  #pending: PendingBatch | null = null;

  constructor(split: DatasetSplit, options: StreamOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new UserError(`The image size must be a positive integer, got ${options.size}`);
    }
    const count = split.samples.length;
    const sampleIndices = Int32Array.from(options.sampleIndices);
    const outside = sampleIndices.findIndex((index) => index < 0 || index >= count);
    if (outside >= 0) {
      throw new UserError(
        `${split.dataset} (${split.split} split under ${split.root}): training sample ` +
          `${sampleIndices[outside]} does not exist (the split has ${count} samples); the data ` +
          `root changed since the training set was listed: run with --force fewshot`,
      );
    }
    const labels = Int32Array.from(sampleIndices, (index) => split.samples[index]!.label);
    const expected = options.expectedLabels;
    if (expected !== undefined) {
      const differs = expected.length !== labels.length ||
        labels.some((label, position) => label !== expected[position]);
      if (differs) {
        throw new UserError(
          `${split.dataset} (${split.split} split under ${split.root}): the labels on disk ` +
            `differ from those listed with the training set; the data root changed since: run ` +
            `with --force fewshot`,
        );
      }
    }
    this.labels = labels;
    this.classNames = [...split.classNames];
    this.size = options.size;
    this.#split = split;
    this.#sampleIndices = sampleIndices;
    this.#seed = options.seed;
    this.#scale = options.scale ?? FEW_SHOT_CROP_SCALE;
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_DECODE_CONCURRENCY);
    this.#signal = options.signal;
  }

  /** Number of training images. */
  get count(): number {
    return this.#sampleIndices.length;
  }

  /**
   * Normalised pixels `[indices.length, 3, size, size]` of training-set positions `indices`, in
   * that order, augmented for `epoch`. The caller disposes the tensor.
   */
  async batch(indices: readonly number[], epoch: number): Promise<tf.Tensor4D> {
    const key = batchKey(indices, epoch);
    let pixels: Promise<Float32Array>;
    if (this.#pending !== null && this.#pending.key === key) {
      pixels = this.#pending.pixels;
    } else {
      this.#checkIndices(indices);
      pixels = this.#decode(indices, epoch);
    }
    this.#pending = null;
    const data = await pixels;
    return tf.tensor4d(data, [indices.length, 3, this.size, this.size]);
  }

  /**
   * Starts decoding the batch `batch(indices, epoch)` will ask for next, while the current step
   * computes. Replaces any earlier prefetch. A failure surfaces when that batch is asked for.
   */
  prefetch(indices: readonly number[], epoch: number): void {
    this.#checkIndices(indices);
    const pixels = this.#decode(indices, epoch);
    // Not awaited until `batch` asks for it (or never, when the loop stops first): keep a failure
    // from being an unhandled rejection; `batch` still sees it through `pixels`.
    pixels.catch(() => {});
    this.#pending = { key: batchKey(indices, epoch), pixels };
  }

  #checkIndices(indices: readonly number[]): void {
    const count = this.#sampleIndices.length;
    const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= count);
    if (bad !== undefined) {
      throw new RangeError(`StreamedSplitImages: batch index ${bad} is outside 0..${count - 1}`);
    }
  }

  /** Crop seeds of `epoch`: entry p seeds the p-th fork, as `augmentSamples` forks them. */
  #seedsOf(epoch: number): Uint32Array {
    let seeds = this.#forkSeeds.get(epoch);
    if (seeds === undefined) {
      const parent = new SeededRng(epochSeed(this.#seed, epoch));
      seeds = new Uint32Array(this.#sampleIndices.length);
      for (let p = 0; p < seeds.length; p++) seeds[p] = parent.nextUint32();
      // The loop asks for an epoch and (prefetching) at most the next one.
      if (this.#forkSeeds.size >= 2) this.#forkSeeds.delete(this.#forkSeeds.keys().next().value!);
      this.#forkSeeds.set(epoch, seeds);
    }
    return seeds;
  }

  async #decode(indices: readonly number[], epoch: number): Promise<Float32Array> {
    const { size } = this;
    const plane = size * size * 3;
    const seeds = this.#seedsOf(epoch);
    const out = new Float32Array(indices.length * plane); // [count, 3, size, size]
    await forEachConcurrent(indices.length, async (slot) => {
      const position = indices[slot]!;
      const sample = this.#split.samples[this.#sampleIndices[position]!]!;
      const image = await loadSample(this.#split, sample);
      // Same generator as augmentSamples' p-th fork: new SeededRng(parent.nextUint32()).
      const rng = new SeededRng(seeds[position]!);
      const crop = randomResizedCrop(image, size, { scale: this.#scale, rng });
      out.set(normalizeUint8(crop.data, size), slot * plane); // [3, size, size] at slot
    }, { concurrency: this.#concurrency, signal: this.#signal });
    return out;
  }
}

function batchKey(indices: readonly number[], epoch: number): string {
  return `${epoch}:${indices.join(",")}`;
}

/**
 * Reads the train split of `dataset` under the data root and streams the training set listed by
 * `options.sampleIndices` from it (see `StreamedSplitImages`).
 */
export async function openStreamedImages(
  root: string,
  options: StreamOptions & { dataset: string },
): Promise<StreamedSplitImages> {
  const split = await readDatasetSplit(root, options.dataset, "train");
  return new StreamedSplitImages(split, options);
}
