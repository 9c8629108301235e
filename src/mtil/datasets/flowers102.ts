/**
 * Oxford Flowers102 (102 classes), as torchvision's `Flowers102(root, split)` reads it: image ids
 * from `setid.mat` (`trnid` / `tstid`, in file order), labels from `imagelabels.mat` (1-based).
 * Class names are the benchmark's hand-fixed list, indexed by label.
 */
import { matNumbers } from "../../io/mat.ts";
import { datasetInfo } from "../benchmark.ts";
import {
  type DatasetSplit,
  type FileSample,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredMat,
  requireDirectory,
  requireEveryClass,
} from "./common.ts";
import { UserError } from "../../errors.ts";

const FOLDER = "flowers-102";
const SPLIT_KEYS = { train: "trnid", test: "tstid" } as const;

export const FLOWERS102: MtilDatasetLayout = {
  name: "Flowers",
  folder: FOLDER,
  classCount: 102,
  splitKind: "official",
  layout: `${FOLDER}/{imagelabels.mat,setid.mat,jpg/image_00001.jpg..}`,
  async read(root, split): Promise<DatasetSplit> {
    const base = joinPath(root, FOLDER);
    await requireDirectory(this, "folder", base);
    const setidPath = joinPath(base, "setid.mat");
    const labelsPath = joinPath(base, "imagelabels.mat");
    const setids = await readRequiredMat(this, "split file", setidPath);
    const labelFile = await readRequiredMat(this, "label file", labelsPath);
    let imageIds: number[];
    let labels: number[];
    try {
      imageIds = matNumbers(setids.get(SPLIT_KEYS[split]), `${setidPath}: "${SPLIT_KEYS[split]}"`);
      labels = matNumbers(labelFile.get("labels"), `${labelsPath}: "labels"`);
    } catch (error) {
      if (error instanceof UserError) throw new UserError(`${this.name}: ${error.message}`);
      throw error;
    }
    const samples: FileSample[] = imageIds.map((id) => {
      const label = labels[id - 1];
      if (label === undefined || !Number.isInteger(label) || label < 1) {
        throw malformedError(
          this,
          setidPath,
          `image id ${id} has no label in ${labelsPath} (it holds ${labels.length})`,
        );
      }
      return {
        kind: "file",
        path: joinPath(FOLDER, "jpg", `image_${String(id).padStart(5, "0")}.jpg`),
        label: label - 1,
      };
    });
    // Labels run 1..102 in the full dataset; a smaller copy has the classes 1..max label.
    const classCount = Math.max(...labels);
    const fixed = datasetInfo(this.name).classnames ?? [];
    const classNames = Array.from({ length: classCount }, (_, i) => fixed[i] ?? `flower ${i + 1}`);
    const result: DatasetSplit = { dataset: this.name, split, root, classNames, samples };
    requireEveryClass(this, result, setidPath);
    return result;
  },
};
