/**
 * What a finished run leaves under `results/<pipeline>/`: one folder per run (the report, the
 * resolved spec, logs, timings), written beside its final place and renamed there, and for a
 * matrix sweep a summary of all its runs.
 */
import { dirname, join } from "node:path";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { type RunGraph, runSlug } from "../plan/build.ts";
import { toCanonical } from "../spec/mod.ts";
import type { JobResult } from "./types.ts";

/**
 * Writes a run's results folder next to its final place and renames it there, so a reader never
 * sees a half-written folder; an older folder for the same run is replaced.
 */
export async function writeRunResults(
  folder: string,
  run: { graph: RunGraph; report: JobResult; results: JobResult[]; backend: string },
): Promise<void> {
  const parent = dirname(folder);
  await Deno.mkdir(parent, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-results-" });
  try {
    for await (const entry of Deno.readDir(run.report.dir)) {
      if (entry.isFile) {
        await Deno.copyFile(join(run.report.dir, entry.name), join(temp, entry.name));
      }
    }
    const own = new Set(run.graph.jobs.map((job) => job.id));
    const mine = run.results.filter((result) => own.has(result.id));
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
      try {
        const log = await Deno.readTextFile(join(dirname(result.dir), "log.txt"));
        if (log !== "") {
          await Deno.writeTextFile(
            join(temp, "logs", `${result.id.replaceAll("/", "__")}.log`),
            log,
          );
        }
      } catch {
        // A job that logged nothing has no log file.
      }
    }
    await Deno.chmod(temp, 0o755);
    const old = `${folder}.old-${Deno.pid}`;
    let replaced = false;
    try {
      await Deno.rename(folder, old);
      replaced = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await Deno.rename(temp, folder);
    if (replaced) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    if (error instanceof UserError) throw error;
    throw new UserError(`Cannot write results to ${folder}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * One line per run of a matrix sweep (its matrix point, Transfer / Average / Last means): the
 * ablation table at a glance. Each run's folder has the per-dataset tables.
 */
export async function writeSweepSummary(
  path: string,
  runs: { graph: RunGraph; report: JobResult }[],
): Promise<void> {
  const lines = [
    `# ${runs[0]!.graph.pipeline.name}: ${runs.length} runs`,
    "",
    "| run | Transfer | Average | Last |",
    "|---|---:|---:|---:|",
  ];
  for (const { graph, report } of runs) {
    let cells = ["–", "–", "–"];
    try {
      const metrics = JSON.parse(
        await Deno.readTextFile(join(report.dir, "metrics.json")),
      ) as Record<string, { mean?: number } | undefined>;
      cells = ["transfer", "average", "last"].map((name) => {
        const mean = metrics[name]?.mean;
        return typeof mean === "number" ? mean.toFixed(1) : "–";
      });
    } catch {
      // A report without metrics (evaluate.every_task: false keeps Last only) shows dashes.
    }
    lines.push(`| ${runSlug(graph)} | ${cells.join(" | ")} |`);
  }
  await writeFileAtomic(path, new TextEncoder().encode(lines.join("\n") + "\n"));
}
