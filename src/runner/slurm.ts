/**
 * The Slurm executor: each job whose inputs are ready becomes one Slurm job (`sbatch`), which runs
 * the worker `deno task job KEY` on a node. The worker executes the job from its record in the
 * cache into the cache; the cache, on a file system every node shares, is the only channel
 * between this process and the workers. Each worker writes its events (src/runner/
 * worker_protocol.ts) to its log, `<cache>/logs/<key>.<slurm job id>.log`, which this process
 * reads as it grows (opened again each time: NFS's close-to-open consistency then shows the
 * latest bytes); `squeue` tells it only whether a job is still queued or running, to notice
 * jobs that end without a word (killed, out of memory, a failed node, cancelled while queued).
 *
 * A job ends when its log says `done` (the artifact is committed) or `failed`, or when Slurm no
 * longer runs it. A failure names the Slurm job id, the rankone job, the state and the log.
 * `cancel` (Ctrl-C on the driver) runs `scancel` on every job it submitted; Slurm sends each
 * worker SIGTERM, which stops it within a training step, removes its temporary output and
 * releases its lock.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Job } from "../cache/job.ts";
import type { CacheStore } from "../cache/store.ts";
import type { InferenceSetting } from "../clip/settings.ts";
import { UserError } from "../errors.ts";
import type { RunGraph } from "../plan/build.ts";
import { DEFAULT_SLURM_RESOURCES } from "../spec/executor.ts";
import type { ExecutorSpec, SlurmResources, StageKind } from "../spec/types.ts";
import { RunInterrupted } from "./errors.ts";
import type { ExecuteRequest, JobExecutor, WorkerOutcome } from "./schedule.ts";
import { parseEvent } from "./worker_protocol.ts";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** Slurm states after which a job does nothing more (a requeued job goes back to PENDING). */
const ENDED = new Set([
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "TIMEOUT",
]);

/** The state of a job squeue no longer knows (finished longer ago than its MinJobAge). */
const GONE = "gone from the queue";

/** Pending reasons that only mean "waiting its turn": others are worth telling the user. */
const ORDINARY_REASONS = new Set(["None", "Priority", "Resources", "BeginTime", "Dependency"]);

export interface SlurmOptions {
  store: CacheStore;
  /** The sbatch resources of a job (from the spec's `executor.slurm`, by the job's kind). */
  resources(job: Job): SlurmResources;
  /** `--slurm-partition`: wins over the spec's partitions. */
  partition?: string;
  /** Slurm jobs this run has queued or running at once (`--max-jobs`). */
  maxJobs: number;
  /** The TF.js backend workers use: as requested, so each node resolves `auto` for itself. */
  backend: string;
  /** The inference engine and device asked for: each node resolves `auto` for itself. */
  inference: InferenceSetting;
  /** Rehash every file of the inputs a job reads (`run --verify`). */
  verify: boolean;
  /** Deno on the nodes: $RANKONE_DENO, else this process's own executable. */
  deno?: string;
  /** How often job logs are read (ms; 500). */
  tailMs?: number;
  /** How often `squeue` is asked (ms; 5000). */
  squeueMs?: number;
}

/** A submitted job this process follows. */
interface Submitted {
  slurmId: string;
  request: ExecuteRequest;
  log: string;
  /** Bytes of the log read so far, and a last line not yet ended. */
  offset: number;
  partial: string;
  state: string;
  node: string;
  /** The last lines that are not events (a runtime's or Slurm's own message). */
  text: string[];
  /** Whether its log exists yet (the job started). */
  started: boolean;
  resolve(outcome: WorkerOutcome): void;
  reject(error: Error): void;
}

export class SlurmExecutor implements JobExecutor {
  readonly name = "Slurm";
  readonly slots: number;
  readonly logsDir: string;
  private readonly options: SlurmOptions;
  private readonly deno: string;
  private readonly submitted = new Map<string, Submitted>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private polling = false;
  private lastSqueue = -Infinity;
  private squeueFailures = 0;

  constructor(options: SlurmOptions) {
    this.options = options;
    this.slots = options.maxJobs;
    this.logsDir = options.store.logsDir;
    this.deno = options.deno ?? Deno.env.get("RANKONE_DENO") ?? Deno.execPath();
  }

  async execute(request: ExecuteRequest): Promise<WorkerOutcome> {
    const { job, key } = request;
    const args = sbatchArgs(this.options.resources(job), {
      partition: this.options.partition,
      name: `rankone:${job.id}`,
      log: join(this.logsDir, `${key}.%j.log`),
      command: this.workerCommand(request),
    });
    const submitted = await slurmCommand("sbatch", args);
    if (submitted.code !== 0) {
      const why = lastLine(submitted.stderr) || `exit code ${submitted.code}`;
      // The options, without the --wrap command: what the user's cluster refused.
      const options = args.slice(0, -2).join(" ");
      throw new UserError(`${job.id}: sbatch refused the job: ${why} (sbatch ${options})`);
    }
    // --parsable prints "<id>" or "<id>;<cluster>".
    const slurmId = submitted.stdout.trim().split(";")[0]!;
    const log = join(this.logsDir, `${key}.${slurmId}.log`);
    request.log(`submitted as Slurm job ${slurmId}; log ${log}`);
    const outcome = new Promise<WorkerOutcome>((resolve, reject) => {
      this.submitted.set(slurmId, {
        slurmId,
        request,
        log,
        offset: 0,
        partial: "",
        state: "PENDING",
        node: "",
        text: [],
        started: false,
        resolve,
        reject,
      });
    });
    this.startPolling();
    return await outcome;
  }

  /** `scancel` of every job still followed; each one's promise rejects as interrupted. */
  async cancel(reason: unknown): Promise<void> {
    this.stopPolling();
    const ids = [...this.submitted.keys()];
    if (ids.length === 0) return;
    const cancelled = await slurmCommand("scancel", ids);
    const note = cancelled.code === 0 ? "" : `; scancel said: ${lastLine(cancelled.stderr)}`;
    for (const job of this.submitted.values()) {
      job.reject(new RunInterrupted(job.request.job.id, reason));
      job.request.log(`cancelled Slurm job ${job.slurmId}${note}`);
    }
    this.submitted.clear();
  }

  close(): Promise<void> {
    this.stopPolling();
    return Promise.resolve();
  }

  private workerCommand(request: ExecuteRequest): string {
    const args = [this.deno, "run", "-A", MAIN, "job", request.key];
    args.push("--cache", this.options.store.root, "--backend", this.options.backend);
    args.push("--engine", this.options.inference.engine, "--device", this.options.inference.device);
    args.push("--progress-ms", "5000");
    if (request.force) args.push("--force");
    if (this.options.verify) args.push("--verify");
    return `exec ${args.map(shellQuote).join(" ")}`;
  }

  private startPolling(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      this.poll()
        .catch((error) => {
          // Slurm's commands vanished or the cache became unreadable: no job can be followed.
          for (const job of [...this.submitted.values()]) this.fail(job, (error as Error).message);
        })
        .finally(() => (this.polling = false));
    }, this.options.tailMs ?? 500);
  }

  private stopPolling(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads what each job's log has gained; every few seconds, asks Slurm which jobs still run. */
  private async poll(): Promise<void> {
    for (const job of [...this.submitted.values()]) await this.readLog(job);
    const now = performance.now();
    if (this.submitted.size === 0 || now - this.lastSqueue < (this.options.squeueMs ?? 5000)) {
      return;
    }
    this.lastSqueue = now;
    // Only the jobs asked about: one submitted meanwhile is not in the answer.
    const asked = [...this.submitted.keys()];
    const states = await this.queueStates(asked);
    if (states === null) return;
    for (const slurmId of asked) {
      const job = this.submitted.get(slurmId);
      if (job === undefined) continue;
      const found = states.get(job.slurmId);
      if (found !== undefined && !ENDED.has(found.state)) {
        this.noteState(job, found);
        continue;
      }
      // Ended, or gone from the queue: whatever it wrote last is in its log now.
      await this.readLog(job);
      if (!this.submitted.has(job.slurmId)) continue;
      job.state = found?.state ?? GONE;
      job.node = found?.node || job.node;
      const silent = job.started ? "it ended without a word in its log" : "it was not started";
      this.fail(job, job.text.at(-1) ?? silent);
    }
  }

  /** `squeue`'s state of each job id it still knows; null when it could not be asked. */
  private async queueStates(
    ids: string[],
  ): Promise<Map<string, { state: string; node: string; reason: string }> | null> {
    const result = await slurmCommand("squeue", [
      "--noheader",
      "--states=all",
      "--format=%i|%T|%N|%r",
      `--jobs=${ids.join(",")}`,
    ]);
    // One id Slurm has forgotten (past MinJobAge) is an error; several are an empty list.
    if (result.code !== 0 && !/Invalid job id/i.test(result.stderr)) {
      if (++this.squeueFailures === 12) {
        for (const job of [...this.submitted.values()]) {
          this.fail(job, `squeue has failed for a minute: ${lastLine(result.stderr)}`);
        }
      }
      return null;
    }
    this.squeueFailures = 0;
    const states = new Map<string, { state: string; node: string; reason: string }>();
    for (const line of result.stdout.split("\n")) {
      const [id, state, node, reason] = line.trim().split("|");
      if (id && state) states.set(id, { state, node: node ?? "", reason: reason ?? "" });
    }
    return states;
  }

  private noteState(job: Submitted, found: { state: string; node: string; reason: string }) {
    if (found.state === job.state) return;
    job.state = found.state;
    if (found.node !== "") job.node = found.node;
    if (found.state === "RUNNING") {
      job.request.log(`Slurm job ${job.slurmId} running on ${job.node}`);
    } else if (found.state === "PENDING" && !ORDINARY_REASONS.has(found.reason)) {
      job.request.log(`Slurm job ${job.slurmId} pending: ${found.reason}`);
    }
  }

  /** Reads the new part of a job's log and acts on its events. */
  private async readLog(job: Submitted): Promise<void> {
    let file;
    try {
      file = await Deno.open(job.log, { read: true });
    } catch {
      return; // not started yet
    }
    job.started = true;
    let text = "";
    try {
      await file.seek(job.offset, Deno.SeekMode.Start);
      const buffer = new Uint8Array(64 * 1024);
      const decoder = new TextDecoder();
      while (true) {
        const read = await file.read(buffer);
        if (read === null) break;
        job.offset += read;
        text += decoder.decode(buffer.subarray(0, read), { stream: true });
      }
    } finally {
      file.close();
    }
    const lines = (job.partial + text).split("\n");
    job.partial = lines.pop() ?? "";
    for (const line of lines) this.onLine(job, line);
  }

  private onLine(job: Submitted, line: string): void {
    if (!this.submitted.has(job.slurmId)) return;
    const event = parseEvent(line);
    if (event === null) {
      if (line.trim() === "" || line.startsWith("error: ")) return;
      job.text.push(line.trim());
      if (job.text.length > 5) job.text.shift();
      return;
    }
    if (event.type === "job") job.node = event.host;
    else if (event.type === "progress") job.request.progress(event.done, event.total, event.note);
    else if (event.type === "log") job.request.log(event.line);
    else if (event.type === "done") {
      this.submitted.delete(job.slurmId);
      job.resolve({ status: event.status });
    } else if (event.type === "failed") this.fail(job, event.message, event.exitCode);
  }

  /**
   * Rejects the job's promise. The worker's exit code 2 (what it was given cannot run there, as
   * an engine the node lacks) becomes the run's; a signal's (a `scancel`) does not: the driver
   * itself was not interrupted.
   */
  private fail(job: Submitted, why: string, exitCode?: number): void {
    this.submitted.delete(job.slurmId);
    const state = ENDED.has(job.state) || job.state === GONE ? ` (${job.state})` : "";
    const node = job.node === "" ? "" : ` on ${job.node}`;
    job.reject(
      new UserError(
        `${job.request.job.id} failed in Slurm job ${job.slurmId}${state}${node}: ${why}; ` +
          `log: ${job.started ? job.log : "none (it never started)"}`,
        { exitCode: exitCode === 2 ? 2 : 1 },
      ),
    );
  }
}

/**
 * The resources of each job, from the spec of the first run that has it (a job shared by the runs
 * of a matrix is placed once).
 */
export function resourcesByJob(graphs: RunGraph[]): (job: Job) => SlurmResources {
  const byId = new Map<string, ExecutorSpec["slurm"]>();
  for (const graph of graphs) {
    for (const job of graph.jobs) {
      if (!byId.has(job.id)) byId.set(job.id, graph.pipeline.executor.slurm);
    }
  }
  return (job) => {
    const slurm = byId.get(job.id) ?? graphs[0]?.pipeline.executor.slurm;
    return slurm?.[job.kind as StageKind] ?? DEFAULT_SLURM_RESOURCES;
  };
}

/** The sbatch arguments of one job, the command last (`--wrap <command>`). */
export function sbatchArgs(
  resources: SlurmResources,
  job: { partition?: string; name: string; log: string; command: string },
): string[] {
  const args = [
    "--parsable",
    `--job-name=${job.name}`,
    `--output=${job.log}`,
    `--chdir=${REPO}`,
    "--export=ALL,DENO_NO_UPDATE_CHECK=1,NO_COLOR=1",
    `--cpus-per-task=${resources.cpus}`,
  ];
  const partition = job.partition ?? resources.partition;
  if (partition !== null && partition !== undefined) args.push(`--partition=${partition}`);
  if (resources.gpus > 0) args.push(`--gpus=${resources.gpus}`);
  if (resources.mem !== null) args.push(`--mem=${resources.mem}`);
  if (resources.time !== null) args.push(`--time=${resources.time}`);
  args.push(...resources.options, "--wrap", job.command);
  return args;
}

/** A word for a POSIX shell, in single quotes unless it needs none. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

/** Runs a Slurm client command; a missing one is a usage error naming what to install. */
async function slurmCommand(
  name: "sbatch" | "squeue" | "scancel",
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let output;
  try {
    output = await new Deno.Command(name, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${name} not found: --executor slurm needs the Slurm client commands on this machine ` +
          `(Debian: apt-get install slurm-client)`,
        { exitCode: 2 },
      );
    }
    throw error;
  }
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}
