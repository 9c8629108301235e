/**
 * EuroSAT RGB (10 classes, no official split): torchvision's `EuroSAT(root)` is an ImageFolder
 * over `eurosat/2750`; the benchmark splits it 80/20 at random with seed 42 and prompts with
 * hand-fixed class names.
 */
import { datasetInfo } from "../benchmark.ts";
import { randomSplitIndices } from "../splits.ts";
import {
  type DatasetSplit,
  handFixedNames,
  type MtilDatasetLayout,
  readImageFolder,
} from "./common.ts";

const FOLDER = "eurosat";

/** The 10 class folders in torchvision's (sorted) order. */
export const EUROSAT_CLASSES = [
  "AnnualCrop",
  "Forest",
  "HerbaceousVegetation",
  "Highway",
  "Industrial",
  "Pasture",
  "PermanentCrop",
  "Residential",
  "River",
  "SeaLake",
] as const;

export const EUROSAT: MtilDatasetLayout = {
  name: "EuroSAT",
  folder: FOLDER,
  classCount: 10,
  splitKind: "random-80-20",
  layout: `${FOLDER}/2750/<class>/<class>_<n>.jpg`,
  async read(root, split): Promise<DatasetSplit> {
    const { classes, samples } = await readImageFolder(this, root, `${FOLDER}/2750`);
    const indices = randomSplitIndices(samples.length)[split];
    return {
      dataset: this.name,
      split,
      root,
      classNames: handFixedNames(classes, EUROSAT_CLASSES, datasetInfo(this.name).classnames),
      samples: Array.from(indices, (index) => samples[index]!),
    };
  },
};
