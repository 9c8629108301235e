/**
 * Caltech101 (101 classes, no official split): torchvision's `Caltech101(root)` file order, then
 * the benchmark's seed-42 random 80/20 split. Class names are the benchmark's hand-fixed list.
 */
import { datasetInfo } from "../benchmark.ts";
import { randomSplitIndices } from "../splits.ts";
import {
  type DatasetSplit,
  emptyClassError,
  type FileSample,
  handFixedNames,
  joinPath,
  listDirectory,
  malformedError,
  type MtilDatasetLayout,
  requireDirectory,
} from "./common.ts";

const FOLDER = "caltech101";
const CATEGORIES_FOLDER = "101_ObjectCategories";

/** The 101 category folders in torchvision's order (sorted, BACKGROUND_Google removed). */
export const CALTECH101_CATEGORIES = [
  "Faces",
  "Faces_easy",
  "Leopards",
  "Motorbikes",
  "accordion",
  "airplanes",
  "anchor",
  "ant",
  "barrel",
  "bass",
  "beaver",
  "binocular",
  "bonsai",
  "brain",
  "brontosaurus",
  "buddha",
  "butterfly",
  "camera",
  "cannon",
  "car_side",
  "ceiling_fan",
  "cellphone",
  "chair",
  "chandelier",
  "cougar_body",
  "cougar_face",
  "crab",
  "crayfish",
  "crocodile",
  "crocodile_head",
  "cup",
  "dalmatian",
  "dollar_bill",
  "dolphin",
  "dragonfly",
  "electric_guitar",
  "elephant",
  "emu",
  "euphonium",
  "ewer",
  "ferry",
  "flamingo",
  "flamingo_head",
  "garfield",
  "gerenuk",
  "gramophone",
  "grand_piano",
  "hawksbill",
  "headphone",
  "hedgehog",
  "helicopter",
  "ibis",
  "inline_skate",
  "joshua_tree",
  "kangaroo",
  "ketch",
  "lamp",
  "laptop",
  "llama",
  "lobster",
  "lotus",
  "mandolin",
  "mayfly",
  "menorah",
  "metronome",
  "minaret",
  "nautilus",
  "octopus",
  "okapi",
  "pagoda",
  "panda",
  "pigeon",
  "pizza",
  "platypus",
  "pyramid",
  "revolver",
  "rhino",
  "rooster",
  "saxophone",
  "schooner",
  "scissors",
  "scorpion",
  "sea_horse",
  "snoopy",
  "soccer_ball",
  "stapler",
  "starfish",
  "stegosaurus",
  "stop_sign",
  "strawberry",
  "sunflower",
  "tick",
  "trilobite",
  "umbrella",
  "watch",
  "water_lilly",
  "wheelchair",
  "wild_cat",
  "windsor_chair",
  "wrench",
  "yin_yang",
] as const;

const imageName = (index: number) => `image_${String(index).padStart(4, "0")}.jpg`;

export const CALTECH101: MtilDatasetLayout = {
  name: "Caltech101",
  folder: FOLDER,
  classCount: 101,
  splitKind: "random-80-20",
  layout: `${FOLDER}/${CATEGORIES_FOLDER}/<class>/image_0001.jpg..`,
  async read(root, split): Promise<DatasetSplit> {
    const categoriesPath = joinPath(root, FOLDER, CATEGORIES_FOLDER);
    await requireDirectory(this, "folder", categoriesPath);
    const categories = (await listDirectory(categoriesPath))
      .map((entry) => entry.name)
      .filter((name) => name !== "BACKGROUND_Google");
    // torchvision counts a category's entries (n) and loads image_0001.jpg .. image_<n>.jpg, so
    // the sample list (and with it the random split) depends on that count alone. Any other file
    // in the folder would shift it: reject it rather than split differently.
    const all: FileSample[] = [];
    for (const [label, category] of categories.entries()) {
      const folder = joinPath(categoriesPath, category);
      const names = (await listDirectory(folder)).map((entry) => entry.name);
      if (names.length === 0) throw emptyClassError(this, category, folder);
      const expected = new Set(names.map((_, i) => imageName(i + 1)));
      const stray = names.find((name) => !expected.has(name));
      if (stray !== undefined) {
        throw malformedError(
          this,
          folder,
          `holds ${names.length} entries, so torchvision reads image_0001.jpg..` +
            `${imageName(names.length)}, but "${stray}" is not one of them ` +
            `(remove files other than the numbered images)`,
        );
      }
      for (let index = 1; index <= names.length; index++) {
        all.push({
          kind: "file",
          path: joinPath(FOLDER, CATEGORIES_FOLDER, category, imageName(index)),
          label,
        });
      }
    }
    const indices = randomSplitIndices(all.length)[split];
    return {
      dataset: this.name,
      split,
      root,
      classNames: handFixedNames(
        categories,
        CALTECH101_CATEGORIES,
        datasetInfo(this.name).classnames,
      ),
      samples: Array.from(indices, (index) => all[index]!),
    };
  },
};
