/**
 * runScheduled: executes a plan with several jobs at once, each in a worker process (a local one,
 * see pool.ts, or a Slurm job, see slurm.ts) that runs `deno task job KEY`. This process stays the
 * only planner. A job is decided when all its inputs have run (its key needs their content
 * digests, see decide.ts): cached jobs end there; for the others the job record is written, then
 * the job is handed to the executor as soon as it has a free slot. The worker executes the job
 * from its record into the shared cache, under the key's lock; this process then reads the
 * artifact from the cache, verified, before any job that uses it is decided.
 *
 * Why one job at a time as it becomes ready, rather than the whole graph at once with Slurm
 * dependencies (`--dependency=afterok`): a job's key, and so its record, exists only once its
 * inputs' bytes do, and a job whose inputs come out with the bytes they had before (an upstream
 * rerun that changed nothing) is cached and must not run at all. A graph submitted up front
 * would need every worker to plan for itself and could not skip what turns out cached; a failed
 * job would leave its dependants queued forever (DependencyNeverSatisfied). The cost is one
 * scheduling delay per level of the graph, small beside jobs that take minutes.
 *
 * A failed job stops further starts; the jobs already running finish (their artifacts are
 * cached for the rerun) and the run then fails, naming each failure. An interruption (Ctrl-C,
 * SIGTERM) cancels the running jobs through the executor and throws RunInterrupted.
 */
import type { Job } from "../cache/job.ts";
import { writeJobRecord } from "../cache/record.ts";
import type { Artifact } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { type DecidedJob, decideJob, jobResult, recordIndex, recordInputs } from "./decide.ts";
import { RunInterrupted } from "./errors.ts";
import { selectUntil, silentDisplay } from "./run.ts";
import type { JobResult, Plan, PlannedJob, RunOptions, RunSummary } from "./types.ts";

/** A job to execute from its record (written before `execute` is called). */
export interface ExecuteRequest {
  key: string;
  job: Job;
  /** Run even when the artifact exists; the new output replaces it. */
  force: boolean;
  progress(done: number, total: number, note?: string): void;
  log(line: string): void;
}

/** How a worker ended a job it was given. */
export interface WorkerOutcome {
  /** "cached" when another process computed it while the worker waited for its lock. */
  status: "ran" | "cached";
}

/** Runs jobs from their records in worker processes: local ones, or Slurm jobs. */
export interface JobExecutor {
  /** What it is, for messages: "2 local workers", "Slurm". */
  readonly name: string;
  /** How many jobs it runs at once. */
  readonly slots: number;
  /**
   * Executes one job; resolves once the worker has committed the artifact, rejects with an error
   * that names the job, where it ran and where its log is.
   */
  execute(request: ExecuteRequest): Promise<WorkerOutcome>;
  /** Stops every job it is running (an interruption); resolves once they are told to stop. */
  cancel(reason: unknown): Promise<void>;
  /** Releases what it holds (worker processes, timers); called once, at the end. */
  close(): Promise<void>;
}

export interface ScheduledRunOptions extends RunOptions {
  executor: JobExecutor;
}

export async function runScheduled(
  plan: Plan,
  options: ScheduledRunOptions,
): Promise<RunSummary> {
  const started = performance.now();
  const { executor, signal } = options;
  const display = options.display ?? silentDisplay;
  const selected = selectUntil(plan, options.until);
  const todo = plan.jobs.filter((p) => selected.has(p.job.id));
  const order = new Map(todo.map((p, i) => [p.job.id, i]));
  const results: JobResult[] = [];
  const summary = (): RunSummary => {
    results.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return {
      results,
      ran: results.filter((r) => r.status === "ran").length,
      cached: results.filter((r) => r.status === "cached").length,
      seconds: (performance.now() - started) / 1000,
    };
  };
  const graph = new ReadyQueue(todo);
  const artifacts = new Map<string, Artifact>();
  const running = new Map<string, Promise<void>>();
  const failures: { id: string; error: unknown }[] = [];
  let dispatched = 0;
  let toldWaiting = false;
  const interrupted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  const finish = (result: JobResult, artifact: Artifact, position: Position) => {
    artifacts.set(result.id, artifact);
    results.push(result);
    display.jobEnd(result, position);
    graph.done(result.id);
  };
  display.begin(todo.map((p) => p.job.id));
  try {
    while (true) {
      if (signal?.aborted) throw new RunInterrupted(undefined, signal.reason);
      while (failures.length === 0 && running.size < executor.slots) {
        const planned = graph.next();
        if (planned === undefined) break;
        const since = performance.now();
        const position = { index: ++dispatched, total: todo.length };
        const decided = await decideJob(planned, artifacts, plan);
        if (decided.cached !== undefined) {
          finish(
            jobResult(decided, decided.cached, { status: "cached", since }),
            decided.cached,
            position,
          );
          continue;
        }
        display.jobStart(decided.job.id, {
          ...position,
          reason: decided.reason,
          detail: decided.detail,
        });
        await writeJobRecord(plan.store, decided.job, {
          key: decided.key,
          inputs: recordInputs(decided),
          sources: decided.sources,
        });
        const id = decided.job.id;
        const task = dispatch(decided, { plan, executor, display, since })
          .then(({ result, artifact }) => finish(result, artifact, position))
          .catch((error) => {
            failures.push({ id, error });
            if (!signal?.aborted) display.jobLog(id, `failed: ${messageOf(error)}`);
          })
          .finally(() => running.delete(id));
        running.set(id, task);
      }
      if (running.size === 0) break;
      if (failures.length > 0 && !signal?.aborted && !toldWaiting) {
        toldWaiting = true;
        display.jobLog(
          failures[0]!.id,
          `waiting for ${running.size} running job(s) to finish before stopping (Ctrl-C cancels them)`,
        );
      }
      await Promise.race([...running.values(), interrupted]);
    }
    if (failures.length > 0) throw failedRun(failures);
  } catch (error) {
    const stopped = signal?.aborted ? new RunInterrupted(undefined, signal.reason) : error;
    if (signal?.aborted) {
      await executor.cancel(signal.reason);
      await Promise.allSettled(running.values());
    }
    display.end(summary(), stopped);
    throw stopped;
  } finally {
    await executor.close();
    await plan.store.sources.save().catch(() => {});
  }
  const done = summary();
  display.end(done);
  return done;
}

interface Position {
  index: number;
  total: number;
}

/** Hands a decided job to the executor and reads back its artifact from the cache. */
async function dispatch(
  decided: DecidedJob,
  context: { plan: Plan; executor: JobExecutor; display: RunOptions["display"]; since: number },
): Promise<{ result: JobResult; artifact: Artifact }> {
  const { plan, executor, since } = context;
  const display = context.display ?? silentDisplay;
  const { job, key, reason, detail } = decided;
  const outcome = await executor.execute({
    key,
    job,
    force: decided.forced,
    progress: (done, total, note) => display.jobProgress(job.id, done, total, note),
    log: (line) => display.jobLog(job.id, line),
  });
  const lookup = await plan.store.lookup(key, { verify: plan.verify });
  if (!lookup.found) {
    throw new UserError(
      `${job.id}: its worker (${executor.name}) reported it done, but the cache has no valid ` +
        `artifact under ${key}: ${lookup.problem ?? "missing"} (is the cache folder shared?)`,
    );
  }
  plan.verdicts.set(key, lookup);
  const artifact = lookup.artifact;
  if (outcome.status === "cached") {
    await recordIndex(plan, decided, artifact);
    const why = "computed by another process";
    return {
      result: jobResult(decided, artifact, { status: "cached", reason, detail: why, since }),
      artifact,
    };
  }
  return {
    result: jobResult(decided, artifact, { status: "ran", reason, detail, since }),
    artifact,
  };
}

/** The error a run with failed jobs ends with: the first failure, and how many more there were. */
function failedRun(failures: { id: string; error: unknown }[]): Error {
  const [first, ...more] = failures;
  if (more.length === 0) {
    return first!.error instanceof Error ? first!.error : new Error(String(first!.error));
  }
  const others = more.map((failure) => failure.id).join(", ");
  return new UserError(`${messageOf(first!.error)} (and ${more.length} more failed: ${others})`, {
    cause: first!.error,
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The jobs whose inputs have all run, in plan order: the plan's order among ready jobs keeps the
 * run's progress readable and puts each run's jobs together.
 */
class ReadyQueue {
  private readonly waitingOn = new Map<string, number>();
  private readonly users = new Map<string, PlannedJob[]>();
  private readonly position = new Map<string, number>();
  private ready: PlannedJob[] = [];

  constructor(jobs: PlannedJob[]) {
    for (const [i, planned] of jobs.entries()) {
      const upstream = new Set(Object.values(planned.job.inputs));
      this.position.set(planned.job.id, i);
      this.waitingOn.set(planned.job.id, upstream.size);
      for (const id of upstream) this.users.set(id, [...(this.users.get(id) ?? []), planned]);
      if (upstream.size === 0) this.ready.push(planned);
    }
  }

  /** The next ready job, or undefined while none is. */
  next(): PlannedJob | undefined {
    return this.ready.shift();
  }

  /** `id` has its artifact: the jobs that were waiting only for it become ready. */
  done(id: string): void {
    for (const user of this.users.get(id) ?? []) {
      const left = this.waitingOn.get(user.job.id)! - 1;
      this.waitingOn.set(user.job.id, left);
      if (left === 0) this.ready.push(user);
    }
    this.ready.sort((a, b) => this.position.get(a.job.id)! - this.position.get(b.job.id)!);
  }
}
