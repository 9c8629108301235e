/**
 * Oxford-IIIT Pet (37 classes), trainval / test, as torchvision's `OxfordIIITPet(root, split)`
 * reads it: `annotations/<split>.txt` lines `<image id> <class 1..37> <species> <breed id>`,
 * class names from the image ids (`Abyssinian_100` -> "Abyssinian", `american_bulldog_1` ->
 * "American Bulldog", title-cased as Python's str.title()), ordered by label.
 */
import {
  type DatasetSplit,
  type FileSample,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredText,
  requireDirectory,
  requireEveryClass,
  textLines,
} from "./common.ts";

const FOLDER = "oxford-iiit-pet";
const SPLIT_FILES = { train: "trainval", test: "test" } as const;

/** Python's str.title(): each run of letters gets an upper-case first letter, the rest lower. */
export function pythonTitle(text: string): string {
  return text.replace(/\p{L}+/gu, (word) => word[0]!.toUpperCase() + word.slice(1).toLowerCase());
}

export const OXFORD_PET: MtilDatasetLayout = {
  name: "OxfordPet",
  folder: FOLDER,
  classCount: 37,
  splitKind: "official",
  layout: `${FOLDER}/{annotations/{trainval,test}.txt,images/<image id>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    await requireDirectory(this, "folder", joinPath(root, FOLDER, "images"));
    const listPath = joinPath(root, FOLDER, "annotations", `${SPLIT_FILES[split]}.txt`);
    const samples: FileSample[] = [];
    const rawNames = new Map<number, string>();
    for (
      const [index, line] of textLines(await readRequiredText(this, "split list", listPath))
        .entries()
    ) {
      const [imageId, labelText] = line.trim().split(/\s+/);
      const label = Number(labelText) - 1;
      if (imageId === undefined || imageId === "" || !Number.isInteger(label) || label < 0) {
        throw malformedError(
          this,
          `${listPath}:${index + 1}`,
          `expected "<image id> <class 1..37> ...", found "${line.trim()}"`,
        );
      }
      // The class is the image id without its trailing "_<number>".
      const underscore = imageId.lastIndexOf("_");
      rawNames.set(label, underscore < 0 ? imageId : imageId.slice(0, underscore));
      samples.push({ kind: "file", path: joinPath(FOLDER, "images", `${imageId}.jpg`), label });
    }
    const classCount = Math.max(-1, ...rawNames.keys()) + 1;
    const classNames = Array.from(
      { length: classCount },
      (_, label) =>
        (rawNames.get(label) ?? `class ${label + 1}`).split("_").map(pythonTitle).join(" "),
    );
    const result: DatasetSplit = { dataset: this.name, split, root, classNames, samples };
    requireEveryClass(this, result, listPath);
    return result;
  },
};
