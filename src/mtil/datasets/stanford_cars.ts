/**
 * Stanford Cars (196 classes), official split, as torchvision's `StanfordCars(root, split)` reads
 * it: the `annotations` struct array of `devkit/cars_train_annos.mat` or
 * `cars_test_annos_withlabels.mat` (fields `class` 1..196 and `fname`, in file order) and the
 * class names of `devkit/cars_meta.mat`.
 */
import { matNumbers, matString, type MatValue } from "../../io/mat.ts";
import { UserError } from "../../errors.ts";
import {
  type DatasetSplit,
  type FileSample,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredMat,
  requireDirectory,
  requireEveryClass,
  underscoresToSpaces,
} from "./common.ts";

const FOLDER = "stanford_cars";

export const STANFORD_CARS: MtilDatasetLayout = {
  name: "StanfordCars",
  folder: FOLDER,
  classCount: 196,
  splitKind: "official",
  layout: `${FOLDER}/{devkit/{cars_meta.mat,cars_train_annos.mat},cars_test_annos_withlabels.mat,` +
    `cars_train/<fname>.jpg,cars_test/<fname>.jpg}`,
  async read(root, split): Promise<DatasetSplit> {
    const base = joinPath(root, FOLDER);
    await requireDirectory(this, "folder", joinPath(base, "devkit"));
    const metaPath = joinPath(base, "devkit", "cars_meta.mat");
    const annotationsPath = split === "train"
      ? joinPath(base, "devkit", "cars_train_annos.mat")
      : joinPath(base, "cars_test_annos_withlabels.mat");
    const imagesFolder = split === "train" ? "cars_train" : "cars_test";
    const meta = await readRequiredMat(this, "class file", metaPath);
    const annotationFile = await readRequiredMat(this, "annotation file", annotationsPath);
    try {
      const names = meta.get("class_names");
      if (names?.kind !== "cell") {
        throw new UserError(`${metaPath}: "class_names" must be a cell array of strings`);
      }
      const classNames = names.cells.map((cell, i) =>
        underscoresToSpaces(matString(cell, `${metaPath}: class_names{${i + 1}}`))
      );
      const annotations = annotationFile.get("annotations");
      if (annotations?.kind !== "struct") {
        throw new UserError(`${annotationsPath}: "annotations" must be a struct array`);
      }
      const samples: FileSample[] = annotations.elements.map(
        (element: Map<string, MatValue>, i) => {
          const where = `${annotationsPath}: annotations(${i + 1})`;
          const label = matNumbers(element.get("class"), `${where}.class`)[0];
          const fname = matString(element.get("fname"), `${where}.fname`);
          if (label === undefined || !Number.isInteger(label) || label < 1) {
            throw new UserError(`${where}.class: expected an integer 1..${classNames.length}`);
          }
          return { kind: "file", path: joinPath(FOLDER, imagesFolder, fname), label: label - 1 };
        },
      );
      const result: DatasetSplit = { dataset: this.name, split, root, classNames, samples };
      requireEveryClass(this, result, annotationsPath);
      return result;
    } catch (error) {
      if (error instanceof UserError && !error.message.startsWith(`${this.name}:`)) {
        throw malformedError(this, "annotations", error.message);
      }
      throw error;
    }
  },
};
