/**
 * `deno task run FILE [--set a.b=c] [--var N=v] [--force STAGE] [--until STAGE] [--backend B]
 *  [--engine E] [--device D]`: runs what the pipeline needs that the cache does not hold, shows
 * progress (a live stage list on a terminal, plain lines otherwise), and writes each run's
 * results to `results/<pipeline>/<run>/`: the report (accuracy matrix, metrics, tables, plots,
 * training curves), the efficiency table, the resolved spec, every job's log and the timings.
 * Ctrl-C, SIGTERM or a crash leaves no partial artifact and no half-written results folder;
 * running again resumes.
 *
 * `--backend` is TF.js's (training); `--engine` / `--device` choose the inference engine of the
 * head and evaluate jobs and override the spec's `inference:`. None of them enters a cache key.
 */
import { join, resolve } from "node:path";
import { CacheStore } from "../cache/store.ts";
import { describeEngineChoice } from "../clip/encoder.ts";
import type { BackendName, InferenceSetting } from "../clip/settings.ts";
import { type RunGraph, runSlug } from "../plan/build.ts";
import { RunInterrupted } from "../runner/errors.ts";
import { resolveRunInference } from "../runner/inference.ts";
import { compilePipeline, planPipeline } from "../runner/pipeline.ts";
import { type FinishedRun, writeRunResults, writeSweepSummary } from "../runner/results.ts";
import { interruptOnSignals } from "../runner/signals.ts";
import type { JobResult } from "../runner/types.ts";
import { executePlan, EXECUTION_OPTIONS, EXECUTION_USAGE, parseExecution } from "./execution.ts";
import { MACHINE_OPTIONS, MACHINE_USAGE, machineProblem } from "./machine.ts";
import { parsePipelineArgs, type PipelineFlags } from "./pipeline.ts";
import { createHashProgress, createProgressDisplay } from "./progress.ts";

const USAGE = "usage: deno task run FILE [--set a.b=value]... [--var NAME=value]... " +
  `[--force ID|KIND|GLOB]... [--until ID|KIND] ${MACHINE_USAGE} ` +
  `[--results DIR] ${EXECUTION_USAGE} [--verify] [--debug]`;

/**
 * The inference setting: the spec's, each field overridden by its flag. `--engine tfjs` alone
 * also sets the device to auto (a device is ONNX Runtime's; TF.js runs on the backend).
 */
function inferenceSetting(flags: PipelineFlags, spec: InferenceSetting): InferenceSetting {
  const engine = (flags.engine ?? spec.engine) as InferenceSetting["engine"];
  const device = flags.device ?? (flags.engine === "tfjs" ? "auto" : spec.device);
  return { engine, device: device as InferenceSetting["device"] };
}

export async function main(args: string[]): Promise<number> {
  const flags = parsePipelineArgs(args, {
    usage: USAGE,
    extra: {
      until: { type: "string" },
      ...MACHINE_OPTIONS,
      results: { type: "string" },
      ...EXECUTION_OPTIONS,
    },
  });
  if (typeof flags === "number") return flags;
  const execution = parseExecution(flags);
  const problem = machineProblem(flags) ?? ("problem" in execution ? execution.problem : null);
  if (problem !== null || "problem" in execution) {
    console.error(`${problem}\n${USAGE}`);
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
    // A matrix sweep shares jobs between its runs: one backend and one engine for all of them.
    const first = graphs[0]!.pipeline;
    const inference = inferenceSetting(flags, first.inference);
    if (execution.executor === "local") {
      // Before any job runs: an explicit engine or device this machine lacks exits 2 here. A
      // Slurm job resolves the setting on its node, as it resolves `backend: auto`.
      const engine = await resolveRunInference(plan, inference, { until: flags.until });
      if (engine !== null) console.log(`inference: ${describeEngineChoice(engine)}`);
    }
    const { summary, backend } = await executePlan(plan, {
      execution,
      graphs,
      backend: (flags.backend ?? first.backend) as BackendName,
      inference,
      options: { until: flags.until, display: createProgressDisplay(), signal: interrupt.signal },
    });
    console.log(
      `${summary.ran} jobs ran, ${summary.cached} cached, ${summary.seconds.toFixed(1)} s ` +
        `(backend ${backend})`,
    );
    await writeResults(graphs, { store, resultsRoot, results: summary.results, backend });
    return 0;
  } finally {
    interrupt.dispose();
    await lease?.close();
  }
}

/** Each run's folder under `resultsRoot`, and a sweep's summary when every run finished. */
async function writeResults(
  graphs: RunGraph[],
  run: { store: CacheStore; resultsRoot: string; results: JobResult[]; backend: string },
): Promise<void> {
  const finished: FinishedRun[] = [];
  for (const graph of graphs) {
    const folder = join(run.resultsRoot, graph.pipeline.name, runSlug(graph));
    const written = await writeRunResults(folder, { ...run, graph });
    if (written === null) continue; // --until stopped before the report
    finished.push(written);
    console.log(`results: ${folder}`);
  }
  if (graphs.length > 1 && finished.length === graphs.length) {
    const path = join(run.resultsRoot, graphs[0]!.pipeline.name, "summary.md");
    await writeSweepSummary(path, finished);
    console.log(`summary of the ${finished.length} runs: ${path}`);
  }
}
