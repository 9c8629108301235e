/**
 * A sweep's runs grouped across seeds: when a matrix varies `train.seed`, the runs that differ
 * only in it are one setting, reported as mean ± sample standard deviation (n − 1) of each
 * metric's mean over datasets, the way papers report repeated runs. A setting is named as its runs
 * are (`matrixPointName`), without the seed.
 */
import { matrixPointName } from "../spec/point.ts";
import { METRIC_NAMES, type MetricName } from "./metrics.ts";

export const SEED_PATH = "train.seed";

export interface SweepRunMetrics {
  /** The run's matrix point: dotted path -> value. */
  point: Record<string, unknown>;
  /** Each metric's mean over datasets; absent when the run has none. */
  means: Partial<Record<MetricName, number>>;
}

export interface SeedGroup {
  /** The matrix point without the seed, as `path=value,...` (or `default`). */
  setting: string;
  seeds: unknown[];
  /** Mean and sample std over the seeds; null when a run lacks the metric. */
  stats: Record<MetricName, { mean: number; std: number } | null>;
}

function meanAndStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(squares / (values.length - 1)) : 0 };
}

/** The runs grouped by everything but the seed, in first-seen order; null if no seed varies. */
export function groupAcrossSeeds(runs: readonly SweepRunMetrics[]): SeedGroup[] | null {
  const seeds = new Set(runs.map((run) => JSON.stringify(run.point[SEED_PATH] ?? null)));
  if (!runs.every((run) => SEED_PATH in run.point) || seeds.size < 2) return null;
  const groups = new Map<string, SweepRunMetrics[]>();
  for (const run of runs) {
    const { [SEED_PATH]: _seed, ...rest } = run.point;
    const setting = matrixPointName(rest) || "default";
    groups.set(setting, [...(groups.get(setting) ?? []), run]);
  }
  return [...groups].map(([setting, members]) => {
    const stats = {} as SeedGroup["stats"];
    for (const name of METRIC_NAMES) {
      const values = members.map((run) => run.means[name]);
      stats[name] = values.every((value): value is number => typeof value === "number")
        ? meanAndStd(values)
        : null;
    }
    return { setting, seeds: members.map((run) => run.point[SEED_PATH]), stats };
  });
}

/** Markdown lines of the grouped table, or none when the sweep does not vary the seed. */
export function acrossSeedsMarkdown(runs: readonly SweepRunMetrics[]): string[] {
  const groups = groupAcrossSeeds(runs);
  if (groups === null) return [];
  const cell = (stat: { mean: number; std: number } | null) =>
    stat === null ? "–" : `${stat.mean.toFixed(1)} ± ${stat.std.toFixed(1)}`;
  return [
    "",
    `## Across seeds (mean ± sample std over ${SEED_PATH})`,
    "",
    "| setting | seeds | Transfer | Average | Last |",
    "|---|---|---:|---:|---:|",
    ...groups.map((group) =>
      `| ${group.setting} | ${group.seeds.join(", ")} | ${
        METRIC_NAMES.map((name) => cell(group.stats[name])).join(" | ")
      } |`
    ),
  ];
}
