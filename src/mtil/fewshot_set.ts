/**
 * A task's training set as the `fewshot` stage stores it: the draw of fewshot.ts (`shots` images
 * per class, seeded like torch.randperm) with each image decoded and augmented ONCE
 * (RandomResizedCrop, scale 0.9-1.0, bicubic, or eval's centre crop) into an image set, and how
 * that set is written and read (image_set.ts, with shots, seed and augment in `meta.json`). With
 * shots = 0 it only lists the whole train split; the trainer streams and augments it per epoch
 * (stream.ts).
 */
import { UserError } from "../errors.ts";
import { readDatasetSplit } from "./datasets/registry.ts";
import { augmentSamples, checkImageSize, type DecodeOptions, preprocessSamples } from "./decode.ts";
import { fewShotIndices } from "./fewshot.ts";
import {
  IMAGE_SET_META_FILE,
  type ImageSet,
  imageSetOf,
  readImageSet,
  writeImageSet,
} from "./image_set.ts";

/** How few-shot images are turned into `size x size`: the release's train crop, or eval's. */
export type FewShotAugment = "random-resized-crop" | "center-crop";

export interface FewShotOptions extends DecodeOptions {
  dataset: string;
  /** Images per class; 0 = the full train split, augmented per epoch (`augmentSamples`). */
  shots: number;
  /** Seeds both the draw (torch.randperm) and the crops. */
  seed: number;
  /** Default "random-resized-crop" (scale 0.9-1.0, bicubic), as the method was released. */
  augment?: FewShotAugment;
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
  checkImageSize(options.size);
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
      ? await augmentSamples(split, sampleIndices, options)
      : await preprocessSamples(split, sampleIndices, options);
  }
  return {
    ...imageSetOf(split, { sampleIndices, size: options.size, images }),
    split: "train",
    shots: options.shots,
    seed: options.seed,
    augment,
  };
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
      `Cannot read few-shot set ${dir}: ${IMAGE_SET_META_FILE} lacks valid shots, seed and augment`,
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
