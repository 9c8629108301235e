/**
 * `deno task table`: Transfer / Average / Last tables of an MTIL accuracy matrix or a run folder.
 *
 *   deno task table --matrix FILE [--zero-shot-row] [--order I|II] [--format md|csv|latex|json]
 *   deno task table results/<run> [--format ...]
 *
 * Both take `--reference FILE [--group NAME] [--against ROW]` to add published rows and show each
 * cell's difference to one of them, `--name NAME` to label the run's row, and `--plot FILE.svg` to
 * also write the accuracy-matrix heatmap.
 * `--format json` prints exactly {"transfer":{"mean","per_dataset"},"average":...,"last":...}.
 */
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { order as taskOrder } from "../mtil/benchmark.ts";
import { type AccuracyMatrix, readAccuracyMatrix, readRunFolder } from "../mtil/matrix.ts";
import { computeMetrics, metricsToJson } from "../mtil/metrics.ts";
import { loadReference, referenceGroup } from "../mtil/reference.ts";
import { renderTables, runTable, TABLE_FORMATS, type TableFormat } from "../mtil/tables.ts";

const USAGE =
  "usage: deno task table (--matrix FILE [--zero-shot-row] [--order I|II] | RUN_FOLDER) " +
  "[--format md|csv|latex|json] [--reference FILE [--group NAME] [--against ROW]] [--name NAME] " +
  "[--plot FILE.svg]";

function usageError(message: string): number {
  console.error(`error: ${message}\n${USAGE}`);
  return 2;
}

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        matrix: { type: "string" },
        "zero-shot-row": { type: "boolean", default: false },
        order: { type: "string" },
        format: { type: "string", default: "md" },
        reference: { type: "string" },
        group: { type: "string" },
        against: { type: "string" },
        name: { type: "string" },
        plot: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const format = values.format as TableFormat;
  if (!TABLE_FORMATS.includes(format)) {
    return usageError(`--format must be one of ${TABLE_FORMATS.join(", ")}, got "${format}"`);
  }
  if (values.order !== undefined && values.order !== "I" && values.order !== "II") {
    return usageError(`--order must be I or II, got "${values.order}"`);
  }
  if (positionals.length > 1) {
    return usageError(`expected one run folder, got ${positionals.length}`);
  }
  const folder = positionals[0];
  if ((folder === undefined) === (values.matrix === undefined)) {
    return usageError("give either --matrix FILE or a run folder");
  }
  if (folder !== undefined && (values.order !== undefined || values["zero-shot-row"])) {
    return usageError(
      "--order and --zero-shot-row apply to --matrix; a run folder's run.json says",
    );
  }
  if (values.reference === undefined && (values.group ?? values.against) !== undefined) {
    return usageError("--group and --against need --reference FILE");
  }

  let matrix: AccuracyMatrix;
  let rowName: string;
  let orderName: string | null;
  let against = values.against;
  if (folder !== undefined) {
    const run = await readRunFolder(folder);
    matrix = run.matrix;
    rowName = values.name ?? run.info.name ?? run.info.method;
    orderName = typeof run.info.order === "string" ? run.info.order : null;
    against ??= run.info.reference_row;
  } else {
    const path = values.matrix!;
    const zeroShotRow = values["zero-shot-row"] ?? false;
    orderName = values.order ?? null;
    const tasks = orderName === null ? undefined : taskOrder(orderName).tasks;
    matrix = await readAccuracyMatrix(path, { zeroShotRow, tasks });
    if (matrix.tasks === null && matrix.values.length === 11) {
      // No header and no --order: the matrix is in Order I, the benchmark's default order.
      orderName = "I";
      matrix = { ...matrix, tasks: taskOrder("I").tasks };
    }
    rowName = values.name ?? path.replace(/^.*\//, "").replace(/\.[^.]*$/, "");
  }
  const metrics = computeMetrics(matrix.values, { source: matrix.source });
  if (values.plot !== undefined) {
    // Loaded only when asked for: vega is the heaviest import of this command.
    const { accuracyMatrixSvg } = await import("../mtil/plots.ts");
    const svg = await accuracyMatrixSvg(matrix, {
      title: `${rowName}: accuracy (%) after each task`,
    });
    await writeFileAtomic(values.plot, new TextEncoder().encode(svg));
  }
  if (format === "json") {
    console.log(JSON.stringify(metricsToJson(metrics)));
    return 0;
  }

  const reference = values.reference === undefined
    ? undefined
    : referenceGroup(await loadReference(values.reference), values.group);
  const table = runTable(matrix, { rowName, metrics, reference, against, orderName });
  console.log(renderTables(table, format).trimEnd());
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof UserError) {
      console.error(`error: ${error.message}`);
      Deno.exit(error.exitCode);
    }
    throw error;
  }
}
