/**
 * Prepared splits: a dataset split decoded ONCE into CLIP's eval geometry (shortest side to
 * `size`, bicubic, centre crop) as one uint8 image set, so the 12 evaluation rounds of an MTIL run
 * never decode an image twice. Quick runs may keep a class-balanced subset (subset.ts).
 *
 * Pure compute: a data root in, an image set out. Storing it is the `prepare` stage's, through
 * `writePrepared` (image_set.ts).
 */
import { type DatasetSplit, readDatasetSplit, type Split } from "./datasets/registry.ts";
import { checkImageSize, type DecodeOptions, preprocessSamples } from "./decode.ts";
import { imageSetOf, type PreparedSplit } from "./image_set.ts";
import { balancedSubset } from "./subset.ts";

export interface PrepareOptions extends DecodeOptions {
  /** Square side to resize + centre-crop to (the model's image size: 224 for ViT-B/16). */
  size: number;
  /**
   * At most this many images, chosen by `balancedSubset` (deterministic, class-balanced; meant
   * for quick runs whose numbers are not comparable to full-split ones). Absent = every image.
   */
  limit?: number;
}

/**
 * CLIP's eval preprocessing of an already-read split (see `prepareSplit`): every image (or the
 * `limit` subset) decoded once, resized + centre-cropped to `size`, stored as uint8.
 */
export async function prepareSamples(
  split: DatasetSplit,
  options: PrepareOptions,
): Promise<PreparedSplit> {
  checkImageSize(options.size);
  const allLabels = split.samples.map((sample) => sample.label);
  const sampleIndices = options.limit === undefined
    ? Int32Array.from(allLabels, (_, i) => i)
    : balancedSubset(allLabels, options.limit);
  const images = await preprocessSamples(split, sampleIndices, options);
  return imageSetOf(split, { sampleIndices, size: options.size, images });
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
