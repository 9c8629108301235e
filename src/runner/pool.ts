/**
 * Local workers for `run --jobs N`: N long-lived processes running `deno task job --serve`, each
 * executing one job at a time from its record, given by key on its stdin. Separate processes,
 * not concurrent jobs in this one: TF.js computes on one thread per process, so jobs in one
 * process would not run at once. A worker lives for the whole run, so it pays TF.js's start once
 * and keeps its model states and inference sessions between jobs (a resource pool of its own,
 * src/runner/resources.ts), as the sequential runner does.
 *
 * The workers share the cache with this process and with each other through its locks, exactly as
 * two runs of the same pipeline do. They are in this process's process group, so a Ctrl-C at the
 * terminal reaches them too; a signal sent to this process alone is passed on by `cancel`.
 */
import { fileURLToPath } from "node:url";
import type { InferenceSetting } from "../clip/settings.ts";
import { UserError } from "../errors.ts";
import { Interruption } from "./errors.ts";
import type { ExecuteRequest, JobExecutor, WorkerOutcome } from "./schedule.ts";
import { parseEvent, readLines, type WorkerRequest } from "./worker_protocol.ts";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface LocalWorkersOptions {
  /** Processes, so jobs at once. */
  slots: number;
  cacheRoot: string;
  /** The resolved TF.js backend every worker uses (the same as a sequential run here would). */
  backend: string;
  /** The inference engine and device asked for (a worker resolves `auto` as this process does). */
  inference: InferenceSetting;
  /** Rehash every file of the inputs a job reads (`run --verify`). */
  verify: boolean;
}

export class LocalWorkers implements JobExecutor {
  readonly name: string;
  readonly slots: number;
  private readonly options: LocalWorkersOptions;
  private readonly idle: WorkerProcess[] = [];
  private readonly started: WorkerProcess[] = [];

  constructor(options: LocalWorkersOptions) {
    this.options = options;
    this.slots = options.slots;
    this.name = `${options.slots} local workers`;
  }

  async execute(request: ExecuteRequest): Promise<WorkerOutcome> {
    let worker = this.idle.pop();
    if (worker === undefined) {
      worker = new WorkerProcess(this.options);
      this.started.push(worker);
    }
    try {
      return await worker.run(request);
    } finally {
      if (worker.alive) this.idle.push(worker);
    }
  }

  cancel(reason: unknown): Promise<void> {
    const signal = reason instanceof Interruption ? reason.signal : "SIGINT";
    for (const worker of this.started) worker.kill(signal);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await Promise.all(this.started.map((worker) => worker.close()));
  }
}

/** The job a worker is running, and how to settle it. */
interface Current {
  request: ExecuteRequest;
  resolve(outcome: WorkerOutcome): void;
  reject(error: Error): void;
}

/** One `deno task job --serve` process. */
class WorkerProcess {
  alive = true;
  private readonly child: Deno.ChildProcess;
  private readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  private readonly ended: Promise<void>;
  private current: Current | null = null;
  /** The last lines it wrote to stderr, for a crash report. */
  private readonly stderrTail: string[] = [];

  constructor(options: LocalWorkersOptions) {
    const args = ["run", "-A", MAIN, "job", "--serve", "--cache", options.cacheRoot];
    args.push("--backend", options.backend, "--progress-ms", "250");
    args.push("--engine", options.inference.engine, "--device", options.inference.device);
    if (options.verify) args.push("--verify");
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: REPO,
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stdin = this.child.stdin.getWriter();
    const reading = Promise.all([this.readEvents(), this.readStderr()]);
    this.ended = reading.then(() => this.child.status).then((status) => {
      this.alive = false;
      const current = this.current;
      this.current = null;
      current?.reject(
        new UserError(
          `${current.request.job.id}: its local worker (pid ${this.child.pid}) exited with ` +
            `code ${status.code}${status.signal ? ` (${status.signal})` : ""} while running it` +
            (this.stderrTail.length > 0 ? `: ${this.stderrTail.join(" | ")}` : ""),
        ),
      );
    });
  }

  run(request: ExecuteRequest): Promise<WorkerOutcome> {
    if (!this.alive) throw new Error("run(): the worker has exited");
    const line: WorkerRequest = { key: request.key, force: request.force };
    return new Promise<WorkerOutcome>((resolve, reject) => {
      this.current = { request, resolve, reject };
      this.stdin.write(new TextEncoder().encode(`${JSON.stringify(line)}\n`)).catch(() => {
        // It exited: `ended` rejects the job with the reason.
      });
    });
  }

  kill(signal: Deno.Signal): void {
    if (!this.alive) return;
    try {
      this.child.kill(signal);
    } catch {
      // Exited meanwhile.
    }
  }

  /** Closes its stdin (it exits once its current job is done) and waits for it to exit. */
  async close(): Promise<void> {
    await this.stdin.close().catch(() => {});
    await this.ended;
  }

  private async readEvents(): Promise<void> {
    for await (const line of readLines(this.child.stdout)) {
      const event = parseEvent(line);
      const current = this.current;
      if (event === null || current === null) continue;
      if (event.type === "progress") current.request.progress(event.done, event.total, event.note);
      else if (event.type === "log") current.request.log(event.line);
      else if (event.type === "done") {
        this.current = null;
        current.resolve({ status: event.status });
      } else if (event.type === "failed") {
        this.current = null;
        current.reject(new UserError(event.message, { exitCode: event.exitCode }));
      }
    }
  }

  private async readStderr(): Promise<void> {
    for await (const line of readLines(this.child.stderr)) {
      if (line.trim() === "") continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > 5) this.stderrTail.shift();
    }
  }
}
