/**
 * CIFAR-100 (100 fine classes), official split, from the "python version" pickles torchvision
 * reads (`cifar-100-python/{train,test,meta}`): `data` uint8 [n, 3072] stored channel-first,
 * `fine_labels`, and `meta`'s `fine_label_names`. Images are array-backed, converted to HWC on
 * load as torchvision does.
 */
import { NdArray, pyText, readPickle } from "../../io/pickle.ts";
import {
  type ArrayImages,
  type ArraySample,
  type DatasetSplit,
  joinPath,
  malformedError,
  missingError,
  type MtilDatasetLayout,
  requireDirectory,
  underscoresToSpaces,
} from "./common.ts";

const FOLDER = "cifar-100-python";
const SIDE = 32;

async function loadDict(layout: MtilDatasetLayout, what: string, path: string) {
  try {
    await Deno.stat(path);
  } catch {
    throw missingError(layout, what, path);
  }
  const value = await readPickle(path);
  if (!(value instanceof Map)) throw malformedError(layout, path, "expected a pickled dict");
  return value as Map<unknown, unknown>;
}

export const CIFAR100: MtilDatasetLayout = {
  name: "CIFAR100",
  folder: FOLDER,
  classCount: 100,
  splitKind: "official",
  layout: `${FOLDER}/{train,test,meta} (python pickles)`,
  async read(root, split): Promise<DatasetSplit> {
    await requireDirectory(this, "folder", joinPath(root, FOLDER));
    const metaPath = joinPath(root, FOLDER, "meta");
    const meta = await loadDict(this, "meta file", metaPath);
    const names = meta.get("fine_label_names");
    if (!Array.isArray(names) || names.some((name) => pyText(name) === undefined)) {
      throw malformedError(this, metaPath, 'expected "fine_label_names", a list of strings');
    }
    const splitFile = joinPath(FOLDER, split);
    const splitPath = joinPath(root, splitFile);
    const entry = await loadDict(this, "split file", splitPath);
    const data = entry.get("data");
    const labels = entry.get("fine_labels");
    if (
      !(data instanceof NdArray) || data.shape.length !== 2 || data.shape[1] !== 3 * SIDE * SIDE
    ) {
      throw malformedError(this, splitPath, 'expected "data", a uint8 array [n, 3072]');
    }
    const count = data.shape[0]!;
    if (!Array.isArray(labels) || labels.length !== count) {
      throw malformedError(this, splitPath, `expected "fine_labels", ${count} integers`);
    }
    // [n, 3, 32, 32] -> [n, 32, 32, 3], as torchvision's transpose((0, 2, 3, 1)).
    const plane = SIDE * SIDE;
    const pixels = new Uint8Array(count * 3 * plane);
    for (let image = 0; image < count; image++) {
      const base = image * 3 * plane;
      for (let channel = 0; channel < 3; channel++) {
        for (let p = 0; p < plane; p++) {
          pixels[base + p * 3 + channel] = data.data[base + channel * plane + p]!;
        }
      }
    }
    const images: ArrayImages = {
      file: splitFile,
      count,
      height: SIDE,
      width: SIDE,
      channels: 3,
      pixels,
    };
    const samples: ArraySample[] = (labels as number[]).map((label, index) => ({
      kind: "array",
      path: `${splitFile}#${index}`,
      label,
      images,
      index,
    }));
    const classNames = names.map((name) => underscoresToSpaces(pyText(name)!));
    return { dataset: this.name, split, root, classNames, samples };
  },
};
