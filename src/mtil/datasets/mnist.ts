/**
 * MNIST (10 classes), official split, from the uncompressed IDX files torchvision keeps in
 * `MNIST/raw/`. Images are array-backed (28 x 28 grey); class names are torchvision's
 * `"0 - zero"` .. `"9 - nine"`.
 */
import { parseIdx } from "../../io/idx.ts";
import {
  type ArrayImages,
  type ArraySample,
  type DatasetSplit,
  joinPath,
  malformedError,
  type MtilDatasetLayout,
  readRequiredFile,
  requireDirectory,
} from "./common.ts";

const FOLDER = "MNIST";

export const MNIST_CLASSES = [
  "0 - zero",
  "1 - one",
  "2 - two",
  "3 - three",
  "4 - four",
  "5 - five",
  "6 - six",
  "7 - seven",
  "8 - eight",
  "9 - nine",
];

export const MNIST: MtilDatasetLayout = {
  name: "MNIST",
  folder: FOLDER,
  classCount: 10,
  splitKind: "official",
  layout: `${FOLDER}/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`,
  async read(root, split): Promise<DatasetSplit> {
    await requireDirectory(this, "folder", joinPath(root, FOLDER, "raw"));
    const prefix = split === "train" ? "train" : "t10k";
    const imagesFile = joinPath(FOLDER, "raw", `${prefix}-images-idx3-ubyte`);
    const labelsFile = joinPath(FOLDER, "raw", `${prefix}-labels-idx1-ubyte`);
    const imagesPath = joinPath(root, imagesFile);
    const labelsPath = joinPath(root, labelsFile);
    const images = parseIdx(await readRequiredFile(this, "image file", imagesPath), imagesPath);
    const labels = parseIdx(await readRequiredFile(this, "label file", labelsPath), labelsPath);
    if (images.dtype !== "uint8" || images.shape.length !== 3) {
      throw malformedError(
        this,
        imagesPath,
        `expected uint8 [n, 28, 28], found ${images.dtype} [${images.shape}]`,
      );
    }
    if (
      labels.dtype !== "uint8" || labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]
    ) {
      throw malformedError(
        this,
        labelsPath,
        `expected uint8 [${
          images.shape[0]
        }] (one label per image), found ${labels.dtype} [${labels.shape}]`,
      );
    }
    const [count, height, width] = images.shape as [number, number, number];
    const arrayImages: ArrayImages = {
      file: imagesFile,
      count,
      height,
      width,
      channels: 1,
      pixels: images.data as Uint8Array,
    };
    const samples: ArraySample[] = Array.from(labels.data, (label, index) => ({
      kind: "array",
      path: `${imagesFile}#${index}`,
      label,
      images: arrayImages,
      index,
    }));
    const classCount = Math.max(...labels.data) + 1;
    return {
      dataset: this.name,
      split,
      root,
      classNames: MNIST_CLASSES.slice(0, classCount),
      samples,
    };
  },
};
