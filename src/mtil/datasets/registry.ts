/**
 * The 11 MTIL datasets as users have them on disk (torchvision's layouts under one data root),
 * and the functions that read and check them.
 */
import { UserError } from "../../errors.ts";
import { MTIL_DATASETS as MTIL_DATASET_NAMES, type MtilDataset } from "../benchmark.ts";
import { AIRCRAFT } from "./aircraft.ts";
import { CALTECH101 } from "./caltech101.ts";
import { CIFAR100 } from "./cifar100.ts";
import type { DatasetSplit, FileSample, MtilDatasetLayout, Sample, Split } from "./common.ts";
import { DTD } from "./dtd.ts";
import { EUROSAT } from "./eurosat.ts";
import { FLOWERS102 } from "./flowers102.ts";
import { FOOD101 } from "./food101.ts";
import { MNIST } from "./mnist.ts";
import { OXFORD_PET } from "./oxford_pet.ts";
import { STANFORD_CARS } from "./stanford_cars.ts";
import { SUN397 } from "./sun397.ts";

export type {
  ArrayImages,
  ArraySample,
  DatasetSplit,
  FileSample,
  MtilDatasetLayout,
  Sample,
  Split,
} from "./common.ts";
export { SPLITS } from "./common.ts";

/** Every MTIL dataset's layout, in the benchmark's alphabetical order (Order I). */
export const MTIL_DATASETS: readonly MtilDatasetLayout[] = [
  AIRCRAFT,
  CALTECH101,
  CIFAR100,
  DTD,
  EUROSAT,
  FLOWERS102,
  FOOD101,
  MNIST,
  OXFORD_PET,
  STANFORD_CARS,
  SUN397,
];

/**
 * A dataset's layout by name, case-insensitively ("caltech101", "Flowers"); torchvision's
 * folder names work too ("flowers-102"). Unknown names are a UserError listing the known ones.
 */
export function mtilDataset(name: string): MtilDatasetLayout {
  const wanted = name.toLowerCase();
  const found = MTIL_DATASETS.find((layout) =>
    layout.name.toLowerCase() === wanted || layout.folder.toLowerCase() === wanted
  );
  if (found === undefined) {
    throw new UserError(
      `Unknown MTIL dataset "${name}" (known: ${MTIL_DATASET_NAMES.join(", ")})`,
    );
  }
  return found;
}

/** Reads one split of one dataset under `root` (samples in the split's deterministic order). */
export function readDatasetSplit(
  root: string,
  name: MtilDataset | string,
  split: Split,
): Promise<DatasetSplit> {
  return mtilDataset(name).read(root.replace(/\/+$/, "") || "/", split);
}

/** The absolute path of a file sample (sample paths are relative to the split's root). */
export function samplePath(split: Pick<DatasetSplit, "root">, sample: Sample): string {
  return `${split.root}/${sample.path}`;
}

const IMAGE_SIGNATURES: { format: string; bytes: number[] }[] = [
  { format: "JPEG", bytes: [0xff, 0xd8, 0xff] },
  { format: "PNG", bytes: [0x89, 0x50, 0x4e, 0x47] },
];

/**
 * Checks a file sample cheaply: it exists and starts like a JPEG or PNG (every MTIL image
 * file is one). A missing or corrupt file is a UserError naming the dataset and path.
 */
export async function checkImageFile(split: DatasetSplit, sample: FileSample): Promise<void> {
  const path = samplePath(split, sample);
  let head: Uint8Array;
  try {
    using file = await Deno.open(path, { read: true });
    head = new Uint8Array(8);
    const read = (await file.read(head)) ?? 0;
    head = head.subarray(0, read);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${split.dataset}: missing image ${path} (listed in the ${split.split} split; expected ` +
          `torchvision layout ${mtilDataset(split.dataset).layout})`,
      );
    }
    throw error;
  }
  const known = IMAGE_SIGNATURES.some(({ bytes }) => bytes.every((byte, i) => head[i] === byte));
  if (!known) {
    const hex = [...head].map((b) => b.toString(16).padStart(2, "0")).join(" ") || "nothing";
    throw new UserError(
      `${split.dataset}: corrupt image ${path} (not a JPEG or PNG: starts with ${hex})`,
    );
  }
}
