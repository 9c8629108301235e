/**
 * What a finished run leaves under `results/<pipeline>/`: one folder per run (the report, the
 * efficiency table, the resolved spec, logs, timings), written beside its final place and renamed
 * there, and for a matrix sweep a summary of all its runs.
 */
import { basename, dirname, join } from "node:path";
import { onAbruptExit } from "../cache/cleanup.ts";
import { HOST, processAlive } from "../cache/host.ts";
import type { CacheStore } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { efficiencyTable, renderEfficiency, sweepEfficiencyMarkdown } from "../mtil/efficiency.ts";
import type { TableFormat } from "../mtil/tables.ts";
import { type RunGraph, runSlug } from "../plan/build.ts";
import { toCanonical } from "../spec/mod.ts";
import { type RunFigures, runFigures } from "./efficiency.ts";
import { METRIC_NAMES } from "../mtil/metrics.ts";
import { acrossSeedsMarkdown, type SweepRunMetrics } from "../mtil/sweep.ts";
import type { JobResult } from "./types.ts";

/** A run whose results folder was written. */
export interface FinishedRun {
  graph: RunGraph;
  report: JobResult;
  figures: RunFigures;
}

/** The efficiency table's files: one per `report.formats` entry, and the JSON always. */
const EFFICIENCY_FILES: Record<string, [TableFormat, string]> = {
  md: ["md", "efficiency.md"],
  csv: ["csv", "efficiency.csv"],
  latex: ["latex", "efficiency.tex"],
  json: ["json", "efficiency.json"],
};

/**
 * Writes a run's results folder next to its final place and renames it there, so a reader never
 * sees a half-written folder; an older folder for the same run is replaced (see `swapInto`).
 * Leftovers of runs killed while doing this are removed first. Null (nothing written) when the
 * run's report did not run (`--until` stopped before it).
 */
export async function writeRunResults(
  folder: string,
  run: { store: CacheStore; graph: RunGraph; results: JobResult[]; backend: string },
): Promise<FinishedRun | null> {
  const report = run.results.find((result) => result.id === run.graph.reportId);
  if (report === undefined) return null;
  const own = new Set(run.graph.jobs.map((job) => job.id));
  const mine = run.results.filter((result) => own.has(result.id));
  // From what the run's jobs recorded when they ran (cached ones: the run that made them).
  const figures = await runFigures(run.store, { graph: run.graph, results: mine });
  const parent = dirname(folder);
  await Deno.mkdir(parent, { recursive: true });
  await removeLeftovers(parent);
  const temp = join(parent, `.tmp-results-${HOST}-${Deno.pid}-${randomSuffix()}`);
  await Deno.mkdir(temp);
  const unregister = onAbruptExit({ kind: "tree", path: temp });
  try {
    for await (const entry of Deno.readDir(report.dir)) {
      if (entry.isFile) {
        await Deno.copyFile(join(report.dir, entry.name), join(temp, entry.name));
      }
    }
    const table = efficiencyTable([figures.efficiency], { reference: figures.reference });
    for (const format of [...run.graph.pipeline.report.formats, "json"]) {
      const [tableFormat, file] = EFFICIENCY_FILES[format]!;
      await Deno.writeTextFile(join(temp, file), renderEfficiency(table, tableFormat));
    }
    await Deno.writeTextFile(
      join(temp, "resolved.json"),
      JSON.stringify(toCanonical(run.graph.pipeline), null, 2) + "\n",
    );
    await Deno.writeTextFile(
      join(temp, "timings.json"),
      JSON.stringify(
        {
          backend: run.backend,
          jobs: mine.map((result) => ({
            id: result.id,
            kind: result.kind,
            status: result.status,
            reason: result.reason ?? null,
            key: result.key,
            digest: result.digest,
            seconds: Number(result.seconds.toFixed(3)),
            runSeconds: Number(result.runSeconds.toFixed(3)),
          })),
        },
        null,
        2,
      ) + "\n",
    );
    await Deno.mkdir(join(temp, "logs"));
    for (const result of mine) {
      const log = await run.store.readLog(result.key);
      if (log !== "") {
        await Deno.writeTextFile(join(temp, "logs", `${result.id.replaceAll("/", "__")}.log`), log);
      }
    }
    await Deno.chmod(temp, 0o755);
    await swapInto(temp, folder);
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    if (error instanceof UserError) throw error;
    throw new UserError(`Cannot write results to ${folder}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    unregister();
  }
  return { graph: run.graph, report, figures };
}

/**
 * Moves the complete folder `temp` to `folder`. A folder cannot be renamed over a non-empty one,
 * so an existing `folder` is first renamed aside (`.<name>.old-<host>-<pid>-<random>`), then
 * `temp` takes its place, then the old one is deleted: a reader sees the old folder or the new
 * one whole, and for an instant none. Concurrent writers of one folder both succeed (the last
 * rename wins): a writer whose rename finds a folder there again moves that one aside too.
 */
export async function swapInto(temp: string, folder: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await Deno.rename(temp, folder);
      return;
    } catch (error) {
      if (!isDirectoryInTheWay(error)) throw error;
    }
    const aside = join(
      dirname(folder),
      `.${basename(folder)}.old-${HOST}-${Deno.pid}-${randomSuffix()}`,
    );
    try {
      await Deno.rename(folder, aside);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue; // another writer moved it
      throw error;
    }
    await Deno.remove(aside, { recursive: true }).catch(() => {});
  }
  throw new Error(`${folder} keeps being replaced by other runs`);
}

function isDirectoryInTheWay(error: unknown): boolean {
  if (error instanceof Deno.errors.AlreadyExists) return true;
  const code = (error as { code?: unknown })?.code;
  return code === "ENOTEMPTY" || code === "EEXIST" ||
    /\(os error (39|17)\)/.test((error as Error)?.message ?? "");
}

/**
 * Removes what writers killed mid-write left in `parent`: `.tmp-results-<host>-<pid>-*` and
 * `.<name>.old-<host>-<pid>-*` of processes of this host that are gone, and the older names
 * (`.tmp-results-*`, `<name>.old-<pid>`) of dead pids. Other hosts' leftovers are removed after a
 * day.
 */
export async function removeLeftovers(parent: string): Promise<void> {
  const now = Date.now();
  for await (const entry of Deno.readDir(parent)) {
    const match = /^\.tmp-results-(?:(.+)-)?(\d+)-[0-9a-z]+$/.exec(entry.name) ??
      /^\..+\.old-(?:(.+)-)?(\d+)-[0-9a-z]+$/.exec(entry.name) ??
      /^.+\.old-()(\d+)$/.exec(entry.name) ??
      (/^\.tmp-results-[A-Za-z0-9_]+$/.test(entry.name) ? [entry.name, "", "0"] : null);
    if (match === null || !entry.isDirectory) continue;
    const host = match[1] || HOST;
    const pid = Number(match[2]);
    const path = join(parent, entry.name);
    let dead: boolean;
    if (host === HOST) dead = pid === 0 ? true : !processAlive(pid, 0);
    else {
      const mtime = (await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? now;
      dead = now - mtime > 86_400_000;
    }
    if (dead && pid !== Deno.pid) await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

function randomSuffix(): string {
  return crypto.randomUUID().slice(0, 8);
}

/**
 * One line per run of a matrix sweep (its matrix point, Transfer / Average / Last means): the
 * ablation table at a glance, mean ± std per setting when the sweep varies `train.seed`, then the
 * efficiency table with one row per run. Each run's folder has the per-dataset tables.
 */
export async function writeSweepSummary(path: string, runs: FinishedRun[]): Promise<void> {
  const lines = [
    `# ${runs[0]!.graph.pipeline.name}: ${runs.length} runs`,
    "",
    "| run | Transfer | Average | Last |",
    "|---|---:|---:|---:|",
  ];
  const perRun: SweepRunMetrics[] = [];
  for (const { graph, report } of runs) {
    let cells = ["–", "–", "–"];
    const means: SweepRunMetrics["means"] = {};
    try {
      const metrics = JSON.parse(
        await Deno.readTextFile(join(report.dir, "metrics.json")),
      ) as Record<string, { mean?: number } | undefined>;
      cells = METRIC_NAMES.map((name) => {
        const mean = metrics[name]?.mean;
        if (typeof mean === "number") means[name] = mean;
        return typeof mean === "number" ? mean.toFixed(1) : "–";
      });
    } catch {
      // A report without metrics (evaluate.every_task: false keeps Last only) shows dashes.
    }
    lines.push(`| ${runSlug(graph)} | ${cells.join(" | ")} |`);
    perRun.push({ point: graph.pipeline.matrixPoint, means });
  }
  lines.push(...acrossSeedsMarkdown(perRun));
  const efficiency = sweepEfficiencyMarkdown(
    runs.map(({ graph, figures }) => ({ name: runSlug(graph), efficiency: figures.efficiency })),
    { reference: runs[0]!.figures.reference },
  );
  const text = lines.join("\n") + "\n\n" + efficiency;
  await writeFileAtomic(path, new TextEncoder().encode(text));
}
