/**
 * Accuracy matrices on disk: `.npy` and `.csv` files, and the run folder the pipeline writes.
 *
 * Run folder contract (`results/<run>/`; documented in docs/metrics.md):
 * - `run.json`: `{"method": "expert-pool", "order": "I"}`; `order` is "I", "II" or the explicit
 *   list of dataset names in task order. Optional: `"name"` (row label, default = method),
 *   `"setting"` (e.g. "5-shot"), `"reference_row"` (the reference row to show differences to).
 * - `accuracy_matrix.csv` (preferred) or `accuracy_matrix.npy`: (T + 1) x T accuracies in percent,
 *   the zero-shot row first, then one row per task; columns are the datasets in task order.
 *   The CSV has a header `after,<dataset 1>,...,<dataset T>` and a label first column
 *   (`zero-shot`, then the dataset just trained), as `formatMatrixCsv` writes it.
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { readNpy } from "../io/npy.ts";
import { displayName, order as taskOrder } from "./benchmark.ts";

/** An accuracy matrix in task order: `values[i][j]` after task i on dataset j, percent. */
export interface AccuracyMatrix {
  /** Where it was read from, for messages. */
  source: string;
  /** Dataset names in task order (columns and rows alike), or null when the file does not say. */
  tasks: string[] | null;
  /** [task, dataset], T x T. */
  values: number[][];
  /** Accuracies before task 1 ([dataset], T values), or null when absent. */
  zeroShot: number[] | null;
}

export interface RunInfo {
  method: string;
  order: "I" | "II" | string[];
  name?: string;
  setting?: string;
  reference_row?: string;
}

export const RUN_INFO_FILE = "run.json";
export const MATRIX_CSV_FILE = "accuracy_matrix.csv";
export const MATRIX_NPY_FILE = "accuracy_matrix.npy";

/** Dataset names of an order given as "I", "II" or an explicit list. */
export function orderTasks(order: RunInfo["order"]): string[] {
  return typeof order === "string" ? taskOrder(order).tasks : [...order];
}

function isNumberCell(cell: string): boolean {
  return cell.trim() !== "" && Number.isFinite(Number(cell));
}

/**
 * Parses CSV text into a matrix. A first row with no numeric cell is a header (dataset names);
 * a first column whose every data cell is non-numeric holds row labels. Any other non-numeric
 * cell is an error naming its line and column.
 */
export function parseMatrixCsv(
  text: string,
  source: string,
): { header: string[] | null; rows: number[][] } {
  const lines = text.split(/\r?\n/).map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => line.trim() !== "");
  if (lines.length === 0) throw new UserError(`Cannot read ${source}: the file is empty`);
  const cells = lines.map(({ line, number }) => ({
    number,
    cells: line.split(",").map((cell) => cell.trim()),
  }));
  let header: string[] | null = null;
  let body = cells;
  const first = cells[0]!;
  if (!first.cells.some(isNumberCell)) {
    header = first.cells;
    body = cells.slice(1);
  }
  const labelled = body.length > 0 && body.every((row) => !isNumberCell(row.cells[0] ?? ""));
  if (labelled && header !== null) header = header.slice(1);
  const rows = body.map(({ number, cells: rowCells }) => {
    const values = labelled ? rowCells.slice(1) : rowCells;
    return values.map((cell, index) => {
      if (!isNumberCell(cell)) {
        const column = index + 1 + (labelled ? 1 : 0);
        throw new UserError(
          `Cannot read ${source}: line ${number}, column ${column}: "${cell}" is not a number`,
        );
      }
      return Number(cell);
    });
  });
  return { header, rows };
}

async function readNpyRows(path: string, zeroShotRow: boolean): Promise<number[][]> {
  const array = await readNpy(path);
  if (array.dtype === "int64") {
    throw new UserError(`Cannot read ${path}: int64 accuracies; save them as float64`);
  }
  const data = Array.from(array.data as ArrayLike<number>);
  let shape = array.shape;
  if (shape.length === 1) {
    // A flat array: T x T, or (T + 1) x T with the zero-shot row.
    const count = shape[0]!;
    const tasks = zeroShotRow ? (Math.sqrt(4 * count + 1) - 1) / 2 : Math.sqrt(count);
    if (!Number.isInteger(tasks)) {
      throw new UserError(
        `Cannot read ${path}: ${count} values do not form a ` +
          (zeroShotRow ? "(T + 1) x T matrix" : "T x T matrix"),
      );
    }
    shape = [zeroShotRow ? tasks + 1 : tasks, tasks];
  }
  if (shape.length !== 2) {
    throw new UserError(`Cannot read ${path}: shape [${array.shape.join(", ")}] is not a matrix`);
  }
  const [rowCount, columnCount] = shape as [number, number];
  return Array.from(
    { length: rowCount },
    (_, i) => data.slice(i * columnCount, (i + 1) * columnCount),
  );
}

/**
 * Reads an accuracy matrix from `.npy` or `.csv`: T x T, or (T + 1) x T with `zeroShotRow`.
 * The shape is checked against `tasks` when given (else against a CSV header, else square).
 */
export async function readAccuracyMatrix(
  path: string,
  options: { zeroShotRow?: boolean; tasks?: string[] } = {},
): Promise<AccuracyMatrix> {
  const zeroShotRow = options.zeroShotRow ?? false;
  let rows: number[][];
  let header: string[] | null = null;
  if (path.endsWith(".npy")) {
    rows = await readNpyRows(path, zeroShotRow);
  } else if (path.endsWith(".csv")) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    ({ header, rows } = parseMatrixCsv(text, path));
  } else {
    throw new UserError(`Cannot read ${path}: expected a .npy or .csv accuracy matrix`);
  }
  const tasks = options.tasks ?? header;
  const taskCount = tasks?.length ?? rows[0]?.length ?? 0;
  const expectedRows = taskCount + (zeroShotRow ? 1 : 0);
  const shapeWords = zeroShotRow
    ? `${expectedRows} x ${taskCount} (the zero-shot row first, then one row per task)`
    : `${expectedRows} x ${taskCount} (one row per task)`;
  if (rows.length !== expectedRows) {
    const hint = !zeroShotRow && rows.length === taskCount + 1
      ? "; pass --zero-shot-row if the first row is the zero-shot model"
      : "";
    throw new UserError(
      `Cannot read ${path}: ${rows.length} rows, expected ${shapeWords}${hint}`,
    );
  }
  rows.forEach((row, i) => {
    if (row.length !== taskCount) {
      throw new UserError(
        `Cannot read ${path}: row ${i + 1} has ${row.length} values, expected ${taskCount} ` +
          `(matrix ${shapeWords})`,
      );
    }
    row.forEach((value, j) => {
      if (!Number.isFinite(value)) {
        throw new UserError(`Cannot read ${path}: row ${i + 1}, column ${j + 1} is ${value}`);
      }
    });
  });
  if (header !== null && options.tasks !== undefined) checkHeader(header, options.tasks, path);
  return {
    source: path,
    tasks: tasks === null ? null : [...tasks],
    values: zeroShotRow ? rows.slice(1) : rows,
    zeroShot: zeroShotRow ? rows[0]! : null,
  };
}

function checkHeader(header: string[], tasks: string[], path: string): void {
  // A header may use the datasets' names or their display names ("Cars").
  const mismatch = header.findIndex((name, i) =>
    name !== tasks[i] && name !== displayName(tasks[i] ?? "")
  );
  if (header.length !== tasks.length || mismatch !== -1) {
    throw new UserError(
      `Cannot read ${path}: the header lists ${header.join(", ")}, but the task order is ` +
        `${tasks.join(", ")}`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function parseRunInfo(text: string, path: string): RunInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  const info = raw as Partial<RunInfo> | null;
  if (info === null || typeof info !== "object" || typeof info.method !== "string") {
    throw new UserError(`Cannot read ${path}: "method" (a string) is required`);
  }
  const order = info.order;
  const validOrder = order === "I" || order === "II" ||
    (Array.isArray(order) && order.length > 0 && order.every((name) => typeof name === "string"));
  if (!validOrder) {
    throw new UserError(
      `Cannot read ${path}: "order" must be "I", "II" or a list of dataset names in task order`,
    );
  }
  for (const key of ["name", "setting", "reference_row"] as const) {
    if (info[key] !== undefined && typeof info[key] !== "string") {
      throw new UserError(`Cannot read ${path}: "${key}" must be a string`);
    }
  }
  return info as RunInfo;
}

/** Reads a run folder: `run.json` and its accuracy matrix (zero-shot row first). */
export async function readRunFolder(
  dir: string,
): Promise<{ info: RunInfo; matrix: AccuracyMatrix }> {
  const folder = dir.replace(/\/+$/, "");
  const infoPath = `${folder}/${RUN_INFO_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(infoPath);
  } catch (error) {
    throw new UserError(
      `Cannot read run folder ${folder}: ${RUN_INFO_FILE} is missing (${(error as Error).message})`,
      { cause: error },
    );
  }
  const info = parseRunInfo(text, infoPath);
  const tasks = orderTasks(info.order);
  const csvPath = `${folder}/${MATRIX_CSV_FILE}`;
  const npyPath = `${folder}/${MATRIX_NPY_FILE}`;
  const matrixPath = (await exists(csvPath)) ? csvPath : (await exists(npyPath)) ? npyPath : null;
  if (matrixPath === null) {
    throw new UserError(
      `Cannot read run folder ${folder}: neither ${MATRIX_CSV_FILE} nor ${MATRIX_NPY_FILE} exists`,
    );
  }
  const matrix = await readAccuracyMatrix(matrixPath, { zeroShotRow: true, tasks });
  return { info, matrix };
}

function formatNumber(value: number): string {
  // Shortest text that reads back to the same float64.
  return String(value);
}

/** The CSV the run folder holds: header, then `zero-shot` (when known) and one row per task. */
export function formatMatrixCsv(matrix: AccuracyMatrix): string {
  const taskCount = matrix.values.length;
  const tasks = matrix.tasks ?? Array.from({ length: taskCount }, (_, i) => `task${i + 1}`);
  const lines = [["after", ...tasks].join(",")];
  if (matrix.zeroShot !== null) {
    lines.push(["zero-shot", ...matrix.zeroShot.map(formatNumber)].join(","));
  }
  matrix.values.forEach((row, i) => lines.push([tasks[i]!, ...row.map(formatNumber)].join(",")));
  return lines.join("\n") + "\n";
}

/**
 * Writes a run folder (the contract above): `accuracy_matrix.csv` and `run.json`, each through a
 * temp file and rename. The folder must exist.
 */
export async function writeRunFolder(
  dir: string,
  run: { info: RunInfo; matrix: AccuracyMatrix },
): Promise<void> {
  const folder = dir.replace(/\/+$/, "");
  const tasks = orderTasks(run.info.order);
  if (run.matrix.zeroShot === null) {
    throw new UserError(
      `Cannot write ${folder}: the run's accuracy matrix needs its zero-shot row`,
    );
  }
  if (run.matrix.values.length !== tasks.length) {
    throw new UserError(
      `Cannot write ${folder}: ${run.matrix.values.length} task rows for ${tasks.length} tasks`,
    );
  }
  const encoder = new TextEncoder();
  await writeFileAtomic(
    `${folder}/${MATRIX_CSV_FILE}`,
    encoder.encode(formatMatrixCsv({ ...run.matrix, tasks })),
  );
  await writeFileAtomic(
    `${folder}/${RUN_INFO_FILE}`,
    encoder.encode(JSON.stringify(run.info, null, 2) + "\n"),
  );
}
