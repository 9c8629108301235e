/**
 * `deno task run FILE [--set a.b=c] [--var N=v] [--force STAGE] [--until STAGE] [--backend B]`:
 * runs what the pipeline needs that the cache does not hold, shows progress (a live stage list on
 * a terminal, plain lines otherwise), and writes each run's results to
 * `results/<pipeline>/<run>/`: the report (accuracy matrix, metrics, tables, plots, training
 * curves), the resolved spec, every job's log and the timings. Ctrl-C, SIGTERM or a crash leaves
 * no partial artifact and no half-written results folder; running again resumes.
 */
import { join, resolve } from "node:path";
import { CacheStore } from "../cache/store.ts";
import { type BackendName, isBackendName, useBackend } from "../clip/backend.ts";
import { type RunGraph, runSlug } from "../plan/build.ts";
import { RunInterrupted } from "../runner/errors.ts";
import { compilePipeline, planPipeline } from "../runner/pipeline.ts";
import { writeRunResults, writeSweepSummary } from "../runner/results.ts";
import { runJobs } from "../runner/run.ts";
import { interruptOnSignals } from "../runner/signals.ts";
import type { JobResult } from "../runner/types.ts";
import { releaseModelState } from "../stages/mod.ts";
import { parsePipelineArgs } from "./pipeline.ts";
import { createHashProgress, createProgressDisplay } from "./progress.ts";

const USAGE = "usage: deno task run FILE [--set a.b=value]... [--var NAME=value]... " +
  "[--force ID|KIND|GLOB]... [--until ID|KIND] [--backend auto|cpu|wasm|webgpu|tensorflow|" +
  "tensorflow-gpu] [--results DIR] [--verify] [--debug]";

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
  // A bad spec fails here, before anything is started or written.
  const compiled = await compilePipeline(flags);
  const resultsRoot = resolve(flags.results ?? Deno.env.get("RANKONE_RESULTS") ?? "results");
  const interrupt = interruptOnSignals({
    onFirst: (interruption) =>
      console.error(
        `\n${interruption.signal}: stopping after the current step; ` +
          `${interruption.signal === "SIGINT" ? "Ctrl-C" : "SIGTERM"} again exits at once`,
      ),
  });
  let lease;
  try {
    await interrupt.ready;
    const store = await CacheStore.open();
    lease = await store.openLease(compiled.graphs[0]!.pipeline.name);
    const { graphs, plan } = await planPipeline(compiled, flags, {
      store,
      lease,
      onHashProgress: createHashProgress(),
      signal: interrupt.signal,
    }).catch((error) => {
      throw interrupt.signal.aborted
        ? new RunInterrupted(undefined, interrupt.signal.reason)
        : error;
    });
    const requested = (flags.backend ?? graphs[0]!.pipeline.backend) as BackendName;
    const backend = await useBackend(requested);
    const summary = await runJobs(plan, {
      until: flags.until,
      display: createProgressDisplay(),
      signal: interrupt.signal,
      backend,
    });
    console.log(
      `${summary.ran} jobs ran, ${summary.cached} cached, ${summary.seconds.toFixed(1)} s ` +
        `(backend ${backend})`,
    );
    await writeResults(graphs, { resultsRoot, results: summary.results, backend });
    return 0;
  } finally {
    interrupt.dispose();
    releaseModelState();
    await lease?.close();
  }
}

/** Each run's folder under `resultsRoot`, and a sweep's summary when every run finished. */
async function writeResults(
  graphs: RunGraph[],
  run: { resultsRoot: string; results: JobResult[]; backend: string },
): Promise<void> {
  const byId = new Map(run.results.map((result) => [result.id, result]));
  const finished: { graph: RunGraph; report: JobResult }[] = [];
  for (const graph of graphs) {
    const report = byId.get(graph.reportId);
    if (report === undefined) continue; // --until stopped before the report
    const folder = join(run.resultsRoot, graph.pipeline.name, runSlug(graph));
    await writeRunResults(folder, { graph, report, results: run.results, backend: run.backend });
    finished.push({ graph, report });
    console.log(`results: ${folder}`);
  }
  if (graphs.length > 1 && finished.length === graphs.length) {
    const path = join(run.resultsRoot, graphs[0]!.pipeline.name, "summary.md");
    await writeSweepSummary(path, finished);
    console.log(`summary of the ${finished.length} runs: ${path}`);
  }
}
