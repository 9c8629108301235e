/**
 * runJobs: executes a plan in order. Each job's key is recomputed from its inputs' actual content
 * digests as they become known (and its sources' digests, statted again just before it runs), so
 * a job the plan called "pending" runs only when its key has no artifact. Artifacts are verified
 * as the plan verified them, and a verdict the plan reached is not asked again: whatever the plan
 * found corrupt is recomputed before anything reads it. Computing goes through `computeJob`
 * (execute.ts): under the key's lock, into a temporary folder that becomes the artifact in one
 * rename; a failed, interrupted or killed job leaves no artifact.
 */
import type { SourceInput, StageRegistry } from "../cache/job.ts";
import type { Artifact } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { RunInterrupted } from "./errors.ts";
import { decideJob, jobResult, recordIndex } from "./decide.ts";
import { computeLeased, machineSettings, waitingMessage } from "./execute.ts";
import { ResourcePool } from "./resources.ts";
import type { JobResult, Plan, PlannedJob, RunDisplay, RunOptions, RunSummary } from "./types.ts";

export { Interruption, JobFailed, RunInterrupted } from "./errors.ts";

/** The ids `until` selects (a job id, or every job of a kind) together with all their upstream. */
export function selectUntil(plan: Plan, until: string | undefined): Set<string> {
  const all = plan.jobs.map((p) => p.job);
  if (until === undefined) return new Set(all.map((job) => job.id));
  const targets = all.filter((job) => job.id === until || job.kind === until);
  if (targets.length === 0) {
    throw new UserError(`--until ${until}: no job has this id or kind`, { exitCode: 2 });
  }
  const byId = new Map(all.map((job) => [job.id, job]));
  const selected = new Set<string>();
  const stack = targets.map((job) => job.id);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (selected.has(id)) continue;
    selected.add(id);
    stack.push(...Object.values(byId.get(id)?.inputs ?? {}));
  }
  return selected;
}

export async function runJobs(plan: Plan, options: RunOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  const display = options.display ?? silentDisplay;
  const stages = options.stages ?? plan.stages;
  if (stages === undefined) throw new Error("runJobs: no stage registry (PlanOptions.stages)");
  const selected = selectUntil(plan, options.until);
  const todo = plan.jobs.filter((p) => selected.has(p.job.id));
  const artifacts = new Map<string, Artifact>();
  const results: JobResult[] = [];
  const resources = options.resources ?? new ResourcePool();
  const summary = (): RunSummary => ({
    results,
    ran: results.filter((r) => r.status === "ran").length,
    cached: results.filter((r) => r.status === "cached").length,
    seconds: (performance.now() - started) / 1000,
  });
  display.begin(todo.map((p) => p.job.id));
  try {
    for (const [i, planned] of todo.entries()) {
      if (options.signal?.aborted) throw new RunInterrupted(undefined, options.signal.reason);
      const position = { index: i + 1, total: todo.length };
      const result = await runOne(planned, artifacts, {
        plan,
        stages,
        display,
        position,
        options,
        resources,
      });
      results.push(result);
      display.jobEnd(result, position);
    }
  } catch (error) {
    display.end(summary(), error);
    throw error;
  } finally {
    await plan.store.sources.save().catch(() => {});
    // The run's model states and engine sessions end with it.
    if (options.resources === undefined) await resources.dispose();
  }
  const done = summary();
  display.end(done);
  return done;
}

interface RunOneContext {
  plan: Plan;
  stages: StageRegistry;
  display: RunDisplay;
  position: { index: number; total: number };
  options: RunOptions;
  resources: ResourcePool;
}

async function runOne(
  planned: PlannedJob,
  artifacts: Map<string, Artifact>,
  { plan, stages, display, position, options, resources }: RunOneContext,
): Promise<JobResult> {
  const since = performance.now();
  const job = planned.job;
  const decided = await decideJob(planned, artifacts, plan);
  const { key, reason, detail } = decided;
  if (decided.cached !== undefined) {
    artifacts.set(job.id, decided.cached);
    return jobResult(decided, decided.cached, { status: "cached", since });
  }
  display.jobStart(job.id, { ...position, reason, detail });
  const stage = stages[job.kind];
  if (stage === undefined) throw new Error(`${job.id}: no stage of kind "${job.kind}"`);
  const sources: Record<string, SourceInput> = Object.fromEntries(
    Object.entries(job.sources).map(([name, spec]) => [
      name,
      { path: spec.path, digest: decided.sources[name]! },
    ]),
  );
  const computed = await computeLeased({
    store: plan.store,
    stage,
    job,
    key,
    material: decided.material,
    inputs: decided.inputs,
    sources,
    forced: decided.forced,
    verify: plan.verify,
    signal: options.signal,
    machine: machineSettings(options),
    progress: (done, total, note) => display.jobProgress(job.id, done, total, note),
    log: (line) => display.jobLog(job.id, line),
    waiting: (holder) => display.jobLog(job.id, waitingMessage(holder)),
  }, resources);
  plan.verdicts.set(key, { found: true, artifact: computed.artifact });
  artifacts.set(job.id, computed.artifact);
  if (!computed.computed) {
    await recordIndex(plan, decided, computed.artifact);
    const detail = "computed by another process";
    return jobResult(decided, computed.artifact, { status: "cached", reason, detail, since });
  }
  return jobResult(decided, computed.artifact, { status: "ran", reason, detail, since });
}

/** A display that shows nothing (tests, library use). */
export const silentDisplay: RunDisplay = {
  begin() {},
  jobStart() {},
  jobProgress() {},
  jobLog() {},
  jobEnd() {},
  end() {},
};
