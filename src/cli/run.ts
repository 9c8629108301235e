/**
 * `deno task run FILE [--set a.b=c] [--var N=v] [--force STAGE] [--until STAGE] [--backend B]`:
 * runs what the pipeline needs that the cache does not hold, shows progress (a live stage list on
 * a terminal, plain lines otherwise), and writes each run's results to
 * `results/<pipeline>/<run>/`: the report (accuracy matrix, metrics, tables, plots, training
 * curves), the resolved spec, every job's log and the timings. Ctrl-C or a crash leaves no partial
 * artifact and no half-written results folder; running again resumes.
 */
import { join, resolve } from "node:path";
import { type BackendName, isBackendName, useBackend } from "../clip/backend.ts";
import { type RunGraph, runSlug } from "../plan/build.ts";
import { compileAndPlan } from "../runner/pipeline.ts";
import { writeRunResults, writeSweepSummary } from "../runner/results.ts";
import { runJobs } from "../runner/run.ts";
import { interruptOnSigint } from "../runner/signals.ts";
import type { JobResult } from "../runner/types.ts";
import { releaseModelState } from "../stages/mod.ts";
import { parsePipelineArgs } from "./pipeline.ts";
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
    await writeRunResults(folder, { graph, report, results: summary.results, backend });
    finished.push({ graph, report });
    console.log(`results: ${folder}`);
  }
  if (graphs.length > 1 && finished.length === graphs.length) {
    const path = join(resultsRoot, graphs[0]!.pipeline.name, "summary.md");
    await writeSweepSummary(path, finished);
    console.log(`summary of the ${finished.length} runs: ${path}`);
  }
  return 0;
}
