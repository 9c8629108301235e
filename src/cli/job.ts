/**
 * `deno task job KEY [--cache DIR] [--backend B] [--engine E] [--device D] [--force] [--verify]
 * [--progress-ms N]`: the worker. Executes exactly one job from its record in the cache
 * (`<cache>/jobs/<KEY>.json`, which the driver writes before it starts the worker) into the cache,
 * under the key's lock, and prints what happens as one event per line
 * (src/runner/worker_protocol.ts). A Slurm job runs this; so does each process of a local
 * `run --jobs N`, as `deno task job --serve`, which reads requests (`{"key":…,"force":false}`)
 * from stdin, one per line, and keeps its model states and inference sessions between them (a
 * pool of its own, freed when it exits).
 *
 * The machine settings are not in the record (they are in no key): the driver passes them on the
 * command line, for a Slurm job as it was given them, so that `auto` is resolved on the node that
 * runs the job; an explicit engine or device the node lacks fails the job with exit 2.
 *
 * Exit codes: 0 done (computed, or found computed by another process), 1 the job failed, 2 usage,
 * 130 / 143 interrupted (SIGINT / SIGTERM, as Slurm sends at `scancel` or a time limit): the job's
 * temporary output is removed and its lock released, as in a pipeline run.
 */
import { parseArgs } from "node:util";
import { HOST } from "../cache/host.ts";
import { readRecord } from "../cache/record.ts";
import { CacheStore, defaultCacheRoot } from "../cache/store.ts";
import { useBackend } from "../clip/backend.ts";
import type { BackendName, InferenceSetting } from "../clip/settings.ts";
import { describeError } from "../errors.ts";
import { waitingMessage } from "../runner/execute.ts";
import { runRecordedJob } from "../runner/record.ts";
import { ResourcePool } from "../runner/resources.ts";
import { interruptOnSignals } from "../runner/signals.ts";
import {
  formatEvent,
  readLines,
  type WorkerEvent,
  type WorkerRequest,
} from "../runner/worker_protocol.ts";
import { STAGE_RUNNERS } from "../stages/mod.ts";
import { MACHINE_OPTIONS, MACHINE_USAGE, machineProblem } from "./machine.ts";

const USAGE = `usage: deno task job KEY [--cache DIR] ${MACHINE_USAGE} [--force] [--verify] ` +
  "[--progress-ms N] [--debug]\n" +
  `       deno task job --serve [--cache DIR] ${MACHINE_USAGE} [--verify] [--progress-ms N]` +
  "   (requests as JSON lines on stdin)";

interface WorkerOptions {
  store: CacheStore;
  backend: string;
  /** As asked (`auto` resolved by the stage that opens an encoder, on this machine). */
  inference: InferenceSetting;
  /** Model states and sessions, kept between the jobs of a serving worker. */
  resources: ResourcePool;
  verify: boolean;
  progressMs: number;
  signal: AbortSignal;
  debug: boolean;
}

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        cache: { type: "string" },
        ...MACHINE_OPTIONS,
        force: { type: "boolean" },
        verify: { type: "boolean" },
        serve: { type: "boolean" },
        "progress-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const serve = values.serve === true;
  const progressMs = Number(values["progress-ms"] ?? "1000");
  const requested = values.backend ?? "auto";
  const engine = values.engine ?? "auto";
  const device = values.device ?? "auto";
  const problem = serve && (positionals.length > 0 || values.force === true)
    ? "--serve takes its keys (and force) from stdin"
    : !serve && (positionals.length !== 1 || !/^[0-9a-f]{64}$/.test(positionals[0]!))
    ? "expected one job key (64 hex digits)"
    : !(progressMs >= 0)
    ? `--progress-ms ${values["progress-ms"]}: expected a number of milliseconds`
    : machineProblem({ backend: requested, engine, device });
  if (problem !== null) {
    console.error(`${problem}\n${USAGE}`);
    return 2;
  }
  const interrupt = interruptOnSignals({
    onFirst: (interruption) =>
      console.error(`${interruption.signal}: stopping after the current step`),
  });
  const resources = new ResourcePool();
  try {
    await interrupt.ready;
    const options: WorkerOptions = {
      store: await CacheStore.open(values.cache ?? defaultCacheRoot()),
      backend: await useBackend(requested as BackendName),
      inference: { engine, device } as InferenceSetting,
      resources,
      verify: values.verify === true,
      progressMs,
      signal: interrupt.signal,
      // main.ts takes --debug out of `args`.
      debug: Deno.args.includes("--debug") || Deno.env.get("RANKONE_DEBUG") === "1",
    };
    if (!serve) return await work(positionals[0]!, values.force === true, options);
    return await serveRequests(options);
  } finally {
    interrupt.dispose();
    await resources.dispose();
  }
}

/** Runs the requests read from stdin one after the other, until stdin ends or a signal comes. */
async function serveRequests(options: WorkerOptions): Promise<number> {
  for await (const line of readLines(Deno.stdin.readable, options.signal)) {
    if (line.trim() === "") continue;
    const request = JSON.parse(line) as WorkerRequest;
    const code = await work(request.key, request.force, options);
    if (options.signal.aborted) return code;
  }
  return options.signal.aborted ? exitCodeOf(options.signal) : 0;
}

function exitCodeOf(signal: AbortSignal): number {
  return (signal.reason as { exitCode?: number } | undefined)?.exitCode ?? 130;
}

/** One job: its events on stdout, a failure also as `error: …` on stderr; the exit code. */
async function work(key: string, force: boolean, options: WorkerOptions): Promise<number> {
  const { store, signal } = options;
  let lastProgress = -Infinity;
  try {
    const record = await readRecord(store, key);
    emit({
      type: "job",
      key,
      id: record.id,
      host: HOST,
      pid: Deno.pid,
      slurmJob: Deno.env.get("SLURM_JOB_ID") ?? null,
      backend: options.backend,
    });
    const result = await runRecordedJob(store, key, {
      stages: STAGE_RUNNERS,
      force,
      verify: options.verify ? "full" : "stamp",
      signal,
      backend: options.backend,
      inference: options.inference,
      resources: options.resources,
      progress: (done, total, note) => {
        const now = performance.now();
        if (now - lastProgress < options.progressMs && done < total) return;
        lastProgress = now;
        emit({ type: "progress", done, total, ...(note === undefined ? {} : { note }) });
      },
      log: (line) => emit({ type: "log", line }),
      waiting: (holder) => emit({ type: "log", line: waitingMessage(holder) }),
    });
    emit({
      type: "done",
      status: result.status,
      digest: result.digest,
      seconds: result.seconds,
      runSeconds: result.runSeconds,
    });
    return 0;
  } catch (error) {
    const { message, exitCode } = describeError(error);
    emit({ type: "failed", message, exitCode });
    console.error(`error: ${message}`);
    if (options.debug && error instanceof Error && error.stack) console.error(error.stack);
    return exitCode;
  }
}

const encoder = new TextEncoder();

/** One event line, written at once (a Slurm log file is read while the job runs). */
function emit(event: WorkerEvent): void {
  const bytes = encoder.encode(`${formatEvent(event)}\n`);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}
