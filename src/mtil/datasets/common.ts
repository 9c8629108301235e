/**
 * What every MTIL dataset reader shares: the sample and split types, layout errors that say
 * which file the torchvision layout expects, and directory listing in Python's sort order.
 */
import { UserError } from "../../errors.ts";
import { type MatValue, readMat } from "../../io/mat.ts";
import type { MtilDataset } from "../benchmark.ts";

export type Split = "train" | "test";
export const SPLITS: readonly Split[] = ["train", "test"];

/** An image file; `path` is relative to the data root (`dtd/dtd/images/banded/banded_0002.jpg`). */
export interface FileSample {
  kind: "file";
  path: string;
  label: number;
}

/** Images stored in one array file (MNIST's idx, CIFAR's pickles), decoded on load. */
export interface ArrayImages {
  /** The array file, relative to the data root. */
  file: string;
  count: number;
  height: number;
  width: number;
  /** 1 (MNIST, grey) or 3 (CIFAR, RGB). */
  channels: 1 | 3;
  pixels: Uint8Array; // [count, height, width, channels], row-major (HWC per image)
}

/** One image of an array file; `path` is a stable pseudo-path `<file>#<index>`. */
export interface ArraySample {
  kind: "array";
  path: string;
  label: number;
  images: ArrayImages;
  index: number;
}

export type Sample = FileSample | ArraySample;

/** One split of one dataset, samples in the deterministic order the split defines. */
export interface DatasetSplit {
  dataset: MtilDataset;
  split: Split;
  /** The data root the sample paths are relative to. */
  root: string;
  /** Class names as the benchmark prompts with them (underscores replaced by spaces). */
  classNames: string[];
  samples: Sample[];
}

/** How one dataset sits on disk and how to read it. */
export interface MtilDatasetLayout {
  name: MtilDataset;
  /** The folder under the data root that torchvision creates for it. */
  folder: string;
  /** Classes in the full benchmark dataset. */
  classCount: number;
  /** "official": the dataset's own train / test lists; "random-80-20": seed-42 random split. */
  splitKind: "official" | "random-80-20";
  /** The expected tree in one line, for error messages. */
  layout: string;
  /** Reads one split; throws UserError for a missing or malformed layout. */
  read(root: string, split: Split): Promise<DatasetSplit>;
}

/** Joins path parts with "/" (sample paths are always "/"-separated). */
export function joinPath(...parts: string[]): string {
  return parts.filter((part) => part !== "").join("/").replace(/\/{2,}/g, "/");
}

/** Python's default string order (code points), which torchvision's `sorted()` uses. */
export function comparePython(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `Abc_def` -> `Abc def`: how the benchmark turns folder names into prompt class names. */
export function underscoresToSpaces(name: string): string {
  return name.replaceAll("_", " ");
}

/** The UserError for a missing folder or file: dataset, path, and the layout torchvision uses. */
export function missingError(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  what: string,
  path: string,
): UserError {
  return new UserError(
    `${layout.name}: missing ${what} ${path} (expected torchvision layout ${layout.layout})`,
  );
}

/** A UserError about a file whose content does not fit the layout. */
export function malformedError(
  layout: Pick<MtilDatasetLayout, "name">,
  path: string,
  reason: string,
): UserError {
  return new UserError(`${layout.name}: ${path}: ${reason}`);
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Throws the layout error unless `path` is a directory. */
export async function requireDirectory(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  what: string,
  path: string,
): Promise<void> {
  const info = await statOrNull(path);
  if (info === null || !info.isDirectory) throw missingError(layout, what, path);
}

/** Reads a file the layout needs, or throws the layout error naming it. */
export async function readRequiredFile(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  what: string,
  path: string,
): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
      throw missingError(layout, what, path);
    }
    throw error;
  }
}

/** Reads a MATLAB file the layout needs (annotations), or throws the layout error naming it. */
export async function readRequiredMat(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  what: string,
  path: string,
): Promise<Map<string, MatValue>> {
  if (await statOrNull(path) === null) throw missingError(layout, what, path);
  return await readMat(path);
}

/** Reads a text file the layout needs (UTF-8) or throws the layout error naming it. */
export async function readRequiredText(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  what: string,
  path: string,
): Promise<string> {
  return new TextDecoder().decode(await readRequiredFile(layout, what, path));
}

/** Lines as Python's `for line in file` gives them, minus the final empty line. */
export function textLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export interface DirectoryEntry {
  name: string;
  isDirectory: boolean;
}

/** A directory's entries sorted in Python's order (symlinks followed, as os.walk does). */
export async function listDirectory(path: string): Promise<DirectoryEntry[]> {
  const entries: DirectoryEntry[] = [];
  for await (const entry of Deno.readDir(path)) {
    let isDirectory = entry.isDirectory;
    if (entry.isSymlink) {
      isDirectory = (await statOrNull(`${path}/${entry.name}`))?.isDirectory ?? false;
    }
    entries.push({ name: entry.name, isDirectory });
  }
  return entries.sort((a, b) => comparePython(a.name, b.name));
}

/** torchvision's `IMG_EXTENSIONS` (checked on the lower-cased name). */
export const IMAGE_EXTENSIONS = [
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
];

export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/**
 * Files under `directory` (recursively) in the order `sorted(os.walk(directory))` then
 * `sorted(filenames)` visits them, as paths relative to `directory`.
 */
export async function walkSorted(
  directory: string,
  keep: (name: string) => boolean,
): Promise<string[]> {
  // os.walk yields (dirpath, dirnames, filenames); sorting those tuples orders by dirpath.
  const folders: string[] = [];
  const collect = async (relative: string) => {
    folders.push(relative);
    for (const entry of await listDirectory(joinPath(directory, relative))) {
      if (entry.isDirectory) await collect(joinPath(relative, entry.name));
    }
  };
  await collect("");
  const dirpath = (relative: string) => relative === "" ? directory : `${directory}/${relative}`;
  folders.sort((a, b) => comparePython(dirpath(a), dirpath(b)));
  const files: string[] = [];
  for (const relative of folders) {
    for (const entry of await listDirectory(joinPath(directory, relative))) {
      if (!entry.isDirectory && keep(entry.name)) files.push(joinPath(relative, entry.name));
    }
  }
  return files;
}

/**
 * ImageFolder (EuroSAT): class folders sorted, each class's image files in sorted-walk order.
 * A class folder with no image is an error, as in torchvision.
 */
export async function readImageFolder(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  root: string,
  relativeFolder: string,
): Promise<{ classes: string[]; samples: FileSample[] }> {
  const folder = joinPath(root, relativeFolder);
  await requireDirectory(layout, "folder", folder);
  const classes = (await listDirectory(folder)).filter((e) => e.isDirectory).map((e) => e.name);
  if (classes.length === 0) {
    throw malformedError(layout, folder, `no class folders (expected ${layout.layout})`);
  }
  const samples: FileSample[] = [];
  for (const [label, name] of classes.entries()) {
    const files = await walkSorted(joinPath(folder, name), hasImageExtension);
    if (files.length === 0) {
      throw emptyClassError(layout, name, joinPath(folder, name));
    }
    for (const file of files) {
      samples.push({ kind: "file", path: joinPath(relativeFolder, name, file), label });
    }
  }
  return { classes, samples };
}

export function emptyClassError(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  className: string,
  where: string,
): UserError {
  return new UserError(
    `${layout.name}: class "${className}" has no images in ${where} ` +
      `(expected torchvision layout ${layout.layout})`,
  );
}

/** Checks every class in 0..classNames.length-1 has at least one sample. */
export function requireEveryClass(
  layout: Pick<MtilDatasetLayout, "name" | "layout">,
  split: DatasetSplit,
  where: string,
): void {
  const counts = new Array<number>(split.classNames.length).fill(0);
  for (const sample of split.samples) {
    if (sample.label < 0 || sample.label >= counts.length) {
      throw malformedError(
        layout,
        where,
        `label ${sample.label} of ${sample.path} is outside 0..${counts.length - 1}`,
      );
    }
    counts[sample.label]! += 1;
  }
  const empty = counts.findIndex((count) => count === 0);
  if (empty >= 0) {
    throw emptyClassError(layout, split.classNames[empty]!, `the ${split.split} split of ${where}`);
  }
}

/**
 * Benchmark class names for a dataset whose names the benchmark fixes by hand: the hand-fixed
 * name at the position the class has in the full dataset (`fullOrder`), so subsets keep the
 * right names. Classes not in `fullOrder` fall back to the folder name, underscores replaced.
 */
export function handFixedNames(
  classes: string[],
  fullOrder: readonly string[],
  fixed: readonly string[] | null,
): string[] {
  return classes.map((name) => {
    const position = fullOrder.indexOf(name);
    const fixedName = position >= 0 ? fixed?.[position] : undefined;
    return fixedName ?? underscoresToSpaces(name);
  });
}
