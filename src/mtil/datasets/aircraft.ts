/**
 * FGVC-Aircraft 2013b at the "variant" level (100 classes), official train / test lists, as
 * torchvision's `FGVCAircraft(root, split, annotation_level="variant")` reads it.
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
  underscoresToSpaces,
} from "./common.ts";

const FOLDER = "fgvc-aircraft-2013b";

export const AIRCRAFT: MtilDatasetLayout = {
  name: "Aircraft",
  folder: FOLDER,
  classCount: 100,
  splitKind: "official",
  layout: `${FOLDER}/data/{variants.txt,images_variant_{train,test}.txt,images/<id>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    const data = joinPath(root, FOLDER, "data");
    await requireDirectory(this, "folder", joinPath(root, FOLDER));
    const variantsPath = joinPath(data, "variants.txt");
    // Classes are the lines of variants.txt, stripped, in file order.
    const classes = textLines(await readRequiredText(this, "class list", variantsPath))
      .map((line) => line.trim());
    const classIndex = new Map(classes.map((name, index) => [name, index]));
    const labelsPath = joinPath(data, `images_variant_${split}.txt`);
    const samples: FileSample[] = [];
    for (
      const [lineIndex, line] of textLines(await readRequiredText(this, "split list", labelsPath))
        .entries()
    ) {
      // "<image id> <variant name>", the name may contain spaces.
      const stripped = line.trim();
      const space = stripped.indexOf(" ");
      const label = space < 0 ? undefined : classIndex.get(stripped.slice(space + 1));
      if (label === undefined) {
        throw malformedError(
          this,
          `${labelsPath}:${lineIndex + 1}`,
          `expected "<image id> <variant from variants.txt>", found "${stripped}"`,
        );
      }
      samples.push({
        kind: "file",
        path: joinPath(FOLDER, "data", "images", `${stripped.slice(0, space)}.jpg`),
        label,
      });
    }
    const result: DatasetSplit = {
      dataset: this.name,
      split,
      root,
      classNames: classes.map(underscoresToSpaces),
      samples,
    };
    requireEveryClass(this, result, labelsPath);
    return result;
  },
};
