/**
 * Food-101 (101 classes), official split, as torchvision's `Food101(root, split)` reads it:
 * `meta/<split>.json` maps class -> ["<class>/<id>", ...]; classes sorted, samples in the JSON's
 * key order.
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
  requireEveryClass,
  underscoresToSpaces,
} from "./common.ts";

const FOLDER = "food-101";

export const FOOD101: MtilDatasetLayout = {
  name: "Food",
  folder: FOLDER,
  classCount: 101,
  splitKind: "official",
  layout: `${FOLDER}/{meta/{train,test}.json,images/<class>/<id>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    await requireDirectory(this, "folder", joinPath(root, FOLDER, "images"));
    const metaPath = joinPath(root, FOLDER, "meta", `${split}.json`);
    const text = await readRequiredText(this, "split file", metaPath);
    let metadata: unknown;
    try {
      metadata = JSON.parse(text);
    } catch (error) {
      throw malformedError(this, metaPath, `not valid JSON (${(error as Error).message})`);
    }
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      throw malformedError(this, metaPath, 'expected an object {"<class>": ["<class>/<id>", ...]}');
    }
    const entries = Object.entries(metadata as Record<string, unknown>);
    const classes = entries.map(([name]) => name).sort(comparePython);
    const classIndex = new Map(classes.map((name, index) => [name, index]));
    const samples: FileSample[] = [];
    for (const [className, paths] of entries) {
      if (!Array.isArray(paths) || !paths.every((p) => typeof p === "string")) {
        throw malformedError(this, metaPath, `"${className}" must list image paths as strings`);
      }
      for (const relative of paths as string[]) {
        samples.push({
          kind: "file",
          path: joinPath(FOLDER, "images", `${relative}.jpg`),
          label: classIndex.get(className)!,
        });
      }
    }
    const result: DatasetSplit = {
      dataset: this.name,
      split,
      root,
      classNames: classes.map(underscoresToSpaces),
      samples,
    };
    requireEveryClass(this, result, metaPath);
    return result;
  },
};
