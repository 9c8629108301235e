/**
 * `deno task datasets --root DIR [--name NAME] [--split train|test] [--list]`: checks the MTIL
 * dataset folders under a data root (torchvision's layouts), prints per-dataset class and image
 * counts, or with `--list` one `relative/path<TAB>label` line per image of a split, in split
 * order. A missing or broken dataset is reported with its error and makes the exit code 1.
 */
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";
import {
  checkImageFile,
  type DatasetSplit,
  MTIL_DATASETS,
  mtilDataset,
  type MtilDatasetLayout,
  type Split,
  SPLITS,
} from "../mtil/datasets/registry.ts";

const USAGE = "usage: deno task datasets --root DIR [--name NAME] [--split train|test] [--list]\n" +
  "  --list prints <path>\\t<label> per image of --split (default train), in split order";

interface Row {
  dataset: string;
  folder: string;
  classes: string;
  counts: Partial<Record<Split, number>>;
  split: string;
  status: string;
}

function formatTable(rows: Row[], splits: readonly Split[]): string {
  const header = ["dataset", "folder", "classes", ...splits, "split", "status"];
  const lines = rows.map((row) => [
    row.dataset,
    row.folder,
    row.classes,
    ...splits.map((split) => row.counts[split]?.toString() ?? "-"),
    row.split,
    row.status,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length))
  );
  // Numbers right-aligned, text left-aligned.
  const numeric = new Set([2, ...splits.map((_, i) => 3 + i)]);
  const render = (cells: string[]) =>
    cells.map((cell, column) =>
      numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)
    ).join("  ").trimEnd();
  return [render(header), ...lines.map(render)].join("\n");
}

async function checkDataset(
  root: string,
  layout: MtilDatasetLayout,
  splits: readonly Split[],
): Promise<Row> {
  const row: Row = {
    dataset: layout.name,
    folder: layout.folder,
    classes: "-",
    counts: {},
    split: layout.splitKind,
    status: "ok",
  };
  let classCount = 0;
  for (const split of splits) {
    const data: DatasetSplit = await layout.read(root, split);
    for (const sample of data.samples) {
      if (sample.kind === "file") await checkImageFile(data, sample);
    }
    classCount = Math.max(classCount, data.classNames.length);
    row.counts[split] = data.samples.length;
  }
  row.classes = classCount === layout.classCount
    ? `${classCount}`
    : `${classCount} of ${layout.classCount}`;
  return row;
}

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        root: { type: "string" },
        name: { type: "string" },
        split: { type: "string" },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.root === undefined) {
    console.error(`missing --root\n${USAGE}`);
    return 2;
  }
  if (values.split !== undefined && values.split !== "train" && values.split !== "test") {
    console.error(`--split must be train or test, got "${values.split}"\n${USAGE}`);
    return 2;
  }
  const root = values.root.replace(/\/+$/, "") || "/";
  const layouts = values.name === undefined ? MTIL_DATASETS : [mtilDataset(values.name)];
  const requested = values.split as Split | undefined;

  if (values.list) {
    const split = requested ?? "train";
    let failed = false;
    for (const layout of layouts) {
      try {
        const data = await layout.read(root, split);
        if (data.samples.length > 0) {
          console.log(data.samples.map((sample) => `${sample.path}\t${sample.label}`).join("\n"));
        }
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        console.error(`error: ${error.message}`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  }

  const splits = requested === undefined ? SPLITS : [requested];
  const rows: Row[] = [];
  const errors: string[] = [];
  for (const layout of layouts) {
    try {
      rows.push(await checkDataset(root, layout, splits));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      errors.push(error.message);
      rows.push({
        dataset: layout.name,
        folder: layout.folder,
        classes: "-",
        counts: {},
        split: layout.splitKind,
        status: "error",
      });
    }
  }
  console.log(formatTable(rows, splits));
  for (const message of errors) console.error(`error: ${message}`);
  return errors.length > 0 ? 1 : 0;
}
