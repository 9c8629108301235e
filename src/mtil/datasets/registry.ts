/**
 * The 11 MTIL datasets as users have them on disk (torchvision's layouts under one data root),
 * and the functions that read and check them.
 */
import { UserError } from "../../errors.ts";
import { MTIL_DATASETS as MTIL_DATASET_NAMES, type MtilDataset } from "../benchmark.ts";
import { AIRCRAFT } from "./aircraft.ts";
import { CALTECH101 } from "./caltech101.ts";
import { CIFAR100 } from "./cifar100.ts";
import type { DatasetSplit, MtilDatasetLayout, Split } from "./common.ts";
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
