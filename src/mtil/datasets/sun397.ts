/**
 * SUN397 (397 classes, no official split used): torchvision's `SUN397(root)` takes the classes
 * from `SUN397/ClassName.txt` (`/a/abbey` -> "abbey") and the images from
 * `rglob("sun_*.jpg")`, the class being the folders between the letter and the file
 * (`a/apartment_building/outdoor/sun_x.jpg` -> "apartment_building/outdoor"). rglob's order is
 * the filesystem's, so it differs between machines; this reader sorts the paths (Python string
 * order) instead, then applies the benchmark's seed-42 random 80/20 split. The split membership
 * therefore matches PyTorch's wherever PyTorch's rglob happened to return sorted paths.
 */
import { randomSplitIndices } from "../splits.ts";
import {
  comparePython,
  type DatasetSplit,
  emptyClassError,
  type FileSample,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredText,
  requireDirectory,
  textLines,
  underscoresToSpaces,
  walkSorted,
} from "./common.ts";

const FOLDER = "SUN397";

export const SUN397: MtilDatasetLayout = {
  name: "SUN397",
  folder: FOLDER,
  classCount: 397,
  splitKind: "random-80-20",
  layout: `${FOLDER}/{ClassName.txt,<letter>/<class>[/<subclass>]/sun_<id>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    const base = joinPath(root, FOLDER);
    await requireDirectory(this, "folder", base);
    const classListPath = joinPath(base, "ClassName.txt");
    // "/a/abbey" -> "abbey": torchvision drops the first three characters, then strips.
    const classes = textLines(await readRequiredText(this, "class list", classListPath))
      .map((line) => line.slice(3).trim());
    const classIndex = new Map(classes.map((name, index) => [name, index]));
    const files =
      (await walkSorted(base, (name) => name.startsWith("sun_") && name.endsWith(".jpg")))
        .sort(comparePython);
    const counts = new Array<number>(classes.length).fill(0);
    const all: FileSample[] = files.map((file) => {
      const parts = file.split("/");
      const className = parts.slice(1, -1).join("/");
      const label = classIndex.get(className);
      if (label === undefined) {
        throw malformedError(
          this,
          joinPath(base, file),
          `folder "${className}" is not a class in ${classListPath}`,
        );
      }
      counts[label]! += 1;
      return { kind: "file", path: joinPath(FOLDER, file), label };
    });
    const empty = counts.findIndex((count) => count === 0);
    if (empty >= 0) {
      const name = classes[empty]!;
      throw emptyClassError(this, name, joinPath(base, name[0] ?? "", name));
    }
    const indices = randomSplitIndices(all.length)[split];
    return {
      dataset: this.name,
      split,
      root,
      classNames: classes.map(underscoresToSpaces),
      samples: Array.from(indices, (index) => all[index]!),
    };
  },
};
