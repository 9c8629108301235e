/**
 * MTIL metrics as ZSCL defines them (and every later MTIL paper reports them).
 *
 * acc[i][j] = top-1 accuracy (percent) on dataset j after training task i, i, j = 1..T, both in
 * task order (T = 11 for MTIL):
 * - Transfer_j = mean over i < j of acc[i][j], for j = 2..T; Transfer = mean of those T - 1 values.
 *   It measures zero-shot ability kept on datasets not yet trained on.
 * - Average_j = mean over i = 1..T of acc[i][j]; Average = mean of the T values.
 * - Last_j = acc[T][j]; Last = mean of the T values.
 * The zero-shot row (accuracies before task 1) does not enter these; it is reported as its own row.
 */
import { UserError } from "../errors.ts";

/** One metric's per-dataset values and their mean. */
export interface MetricBlock {
  /** Mean over the datasets that have a value, unrounded. */
  mean: number;
  /** One value per dataset in task order; null where undefined (Transfer of the first task). */
  perDataset: (number | null)[];
}

export interface MtilMetrics {
  transfer: MetricBlock;
  average: MetricBlock;
  last: MetricBlock;
}

export const METRIC_NAMES = ["transfer", "average", "last"] as const;
export type MetricName = typeof METRIC_NAMES[number];

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function block(perDataset: (number | null)[]): MetricBlock {
  const known = perDataset.filter((value): value is number => value !== null);
  return { mean: mean(known), perDataset };
}

/**
 * Transfer / Average / Last of a square accuracy matrix `[task, dataset]` (T x T, task order).
 * A (T + 1) x T matrix with the zero-shot row first is accepted with `zeroShotRow: true`; that row
 * is skipped here (see `zeroShotMetrics`).
 */
export function computeMetrics(
  matrix: readonly (readonly number[])[],
  options: { zeroShotRow?: boolean; source?: string } = {},
): MtilMetrics {
  const rows = options.zeroShotRow ? matrix.slice(1) : matrix;
  checkSquare(rows, options);
  const tasks = rows.length;
  const transfer: (number | null)[] = [];
  const average: number[] = [];
  const last: number[] = [];
  for (let j = 0; j < tasks; j++) {
    const column = rows.map((row) => row[j]!);
    transfer.push(j === 0 ? null : mean(column.slice(0, j)));
    average.push(mean(column));
    last.push(column[tasks - 1]!);
  }
  return { transfer: block(transfer), average: block(average), last: block(last) };
}

/**
 * The zero-shot model as a row of the same tables: with no training, acc[i][j] = zs[j] for every
 * i, so Transfer_j = Average_j = Last_j = zs[j] (Transfer leaves out the first task as usual).
 */
export function zeroShotMetrics(zeroShot: readonly number[]): MtilMetrics {
  const values = [...zeroShot];
  return {
    transfer: block(values.map((value, j) => (j === 0 ? null : value))),
    average: block(values),
    last: block([...values]),
  };
}

function checkSquare(
  rows: readonly (readonly number[])[],
  options: { zeroShotRow?: boolean; source?: string },
): void {
  const source = options.source ?? "accuracy matrix";
  const tasks = rows.length;
  // Rows are numbered as they stand in the input, the zero-shot row included.
  const offset = options.zeroShotRow ? 2 : 1;
  const shape = options.zeroShotRow
    ? `a ${tasks + 1} x ${tasks} matrix with the zero-shot row first`
    : `a ${tasks} x ${tasks} matrix`;
  if (tasks < 1) throw new UserError(`${source}: no task rows`);
  rows.forEach((row, i) => {
    if (row.length !== tasks) {
      throw new UserError(
        `${source}: row ${i + offset} has ${row.length} values, expected ${tasks} (${shape})`,
      );
    }
    row.forEach((value, j) => {
      if (!Number.isFinite(value)) {
        throw new UserError(`${source}: row ${i + offset}, column ${j + 1} is not a finite number`);
      }
    });
  });
}

/**
 * The JSON form `deno task table --format json` prints: unrounded means; `per_dataset` in task
 * order, Transfer's without the first task (T - 1 values), Average's and Last's with all T.
 */
export function metricsToJson(
  metrics: MtilMetrics,
): Record<MetricName, { mean: number; per_dataset: number[] }> {
  const entry = (b: MetricBlock) => ({
    mean: b.mean,
    per_dataset: b.perDataset.filter((value): value is number => value !== null),
  });
  return {
    transfer: entry(metrics.transfer),
    average: entry(metrics.average),
    last: entry(metrics.last),
  };
}
