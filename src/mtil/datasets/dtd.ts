/**
 * DTD, the Describable Textures Dataset (47 classes), labels partition 1, as torchvision's
 * `DTD(root, split, partition=1)` reads it: the split list's lines `<class>/<file>.jpg`, classes
 * sorted.
 */
import {
  comparePython,
  type DatasetSplit,
  type FileSample,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredText,
  requireDirectory,
  textLines,
  underscoresToSpaces,
} from "./common.ts";

const FOLDER = "dtd";
const PARTITION = 1;

export const DTD: MtilDatasetLayout = {
  name: "DTD",
  folder: FOLDER,
  classCount: 47,
  splitKind: "official",
  layout: `${FOLDER}/dtd/{labels/{train,test}${PARTITION}.txt,images/<class>/<file>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    await requireDirectory(this, "folder", joinPath(root, FOLDER, "dtd"));
    const listPath = joinPath(root, FOLDER, "dtd", "labels", `${split}${PARTITION}.txt`);
    const entries: { className: string; path: string }[] = [];
    for (
      const [index, line] of textLines(await readRequiredText(this, "split list", listPath))
        .entries()
    ) {
      const parts = line.trim().split("/");
      if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
        throw malformedError(
          this,
          `${listPath}:${index + 1}`,
          `expected "<class>/<file>.jpg", found "${line.trim()}"`,
        );
      }
      entries.push({
        className: parts[0]!,
        path: joinPath(FOLDER, "dtd", "images", parts[0]!, parts[1]!),
      });
    }
    // Only classes named in this split's list exist, sorted (so both splits agree on 47).
    const classes = [...new Set(entries.map((e) => e.className))].sort(comparePython);
    const classIndex = new Map(classes.map((name, index) => [name, index]));
    const samples: FileSample[] = entries.map((entry) => ({
      kind: "file",
      path: entry.path,
      label: classIndex.get(entry.className)!,
    }));
    return {
      dataset: this.name,
      split,
      root,
      classNames: classes.map(underscoresToSpaces),
      samples,
    };
  },
};
