/**
 * `deno task run FILE [--set a.b=c] [--var N=v] [--force STAGE] [--until STAGE] [--backend B]`:
 * runs what the pipeline needs that the cache does not hold, shows progress (a live stage list on
 * a terminal, plain lines otherwise), and writes each run's results to
 * `results/<pipeline>/<run>/`: the report (accuracy matrix, metrics, tables, plots, training
 * curves), the resolved spec, every job's log and the timings. Ctrl-C or a crash leaves no partial
 * artifact and no half-written results folder; running again resumes.
 */
import { dirname, join, resolve } from "node:path";
import { type BackendName, isBackendName, useBackend } from "../clip/backend.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { RunGraph } from "../plan/build.ts";
import { runJobs } from "../runner/run.ts";
import { interruptOnSigint } from "../runner/signals.ts";
import type { JobResult } from "../runner/types.ts";
import { toCanonical } from "../spec/mod.ts";
import { releaseModelState } from "../stages/mod.ts";
import { compileAndPlan, parsePipelineArgs, runSlug } from "./pipeline.ts";
import { createProgressDisplay } from "./progress.ts";

const USAGE = "usage: deno task run FILE [--set a.b=value]... [--var NAME=value]... " +
  "[--force ID|KIND|GLOB]... [--until ID|KIND] [--backend auto|cpu|wasm|webgpu|tensorflow|" +
  "tensorflow-gpu] [--results DIR] [--verify]";

export async function main(args: string[]): Promise<number> {
  const flags = parsePipelineArgs(args, {
    usage: USAGE,
    extra: { until: { type: "string" }, backend: { type: "string" }, results: { type: "string" } },
  });
  if (typeof flags === "number") return flags;
  if (flags.backend !== undefined && !isBackendName(flags.backend)) {
    console.error(`--backend ${flags.backend}: unknown backend\n${USAGE}`);
    return 2;
  }
  const { graphs, plan } = await compileAndPlan(flags);
  const requested = (flags.backend ?? graphs[0]!.pipeline.backend) as BackendName;
  const backend = await useBackend(requested);
  const resultsRoot = resolve(flags.results ?? Deno.env.get("RANKONE_RESULTS") ?? "results");

  const interrupt = interruptOnSigint();
  const display = createProgressDisplay();
  let summary;
  try {
    summary = await runJobs(plan, {
      until: flags.until,
      display,
      signal: interrupt.signal,
      backend,
    });
  } finally {
    interrupt.dispose();
    releaseModelState();
  }
  const byId = new Map(summary.results.map((result) => [result.id, result]));
  console.log(
    `${summary.ran} jobs ran, ${summary.cached} cached, ${summary.seconds.toFixed(1)} s ` +
      `(backend ${backend})`,
  );
  const finished: { graph: RunGraph; report: JobResult }[] = [];
  for (const graph of graphs) {
    const report = byId.get(graph.reportId);
    if (report === undefined) continue; // --until stopped before the report
    const folder = join(resultsRoot, graph.pipeline.name, runSlug(graph));
    await writeResults(folder, { graph, report, results: summary.results, backend });
    finished.push({ graph, report });
    console.log(`results: ${folder}`);
  }
  if (graphs.length > 1 && finished.length === graphs.length) {
    const path = join(resultsRoot, graphs[0]!.pipeline.name, "summary.md");
    await writeFileAtomic(path, new TextEncoder().encode(await sweepSummary(finished)));
    console.log(`summary of the ${finished.length} runs: ${path}`);
  }
  return 0;
}

/**
 * One line per run of a matrix sweep (its matrix point, Transfer / Average / Last means): the
 * ablation table at a glance. Each run's folder has the per-dataset tables.
 */
async function sweepSummary(runs: { graph: RunGraph; report: JobResult }[]): Promise<string> {
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
  return lines.join("\n") + "\n";
}

/**
 * Writes a run's results folder next to its final place and renames it there, so a reader never
 * sees a half-written folder; an older folder for the same run is replaced.
 */
async function writeResults(
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
