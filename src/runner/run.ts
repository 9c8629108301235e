/**
 * runJobs: executes a plan in order. Each job's key is recomputed from its inputs' actual content
 * digests as they become known, so a job the plan called "pending" runs only when its key has no
 * artifact. A job writes into a temporary folder in the cache, which becomes the artifact in one
 * rename when it succeeds; a failed, interrupted or killed job leaves no artifact.
 */
import type { InputArtifact, Job, JobContext, RerunReason } from "../cache/job.ts";
import { jobKey, type KeyMaterial } from "../cache/key.ts";
import { explainMiss } from "../cache/reason.ts";
import type { Artifact, CacheStore } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { isForced, type PlannedJobWithArtifact } from "./plan.ts";
import type { JobResult, Plan, RunDisplay, RunOptions, RunSummary } from "./types.ts";

/** The run was stopped (Ctrl-C): the CLI exits 130. No partial artifact is left behind. */
export class RunInterrupted extends UserError {
  constructor(jobId?: string) {
    super(
      jobId === undefined
        ? "interrupted"
        : `interrupted during ${jobId}; its partial output was discarded`,
      { exitCode: 130 },
    );
    this.name = "RunInterrupted";
  }
}

/** A job threw something that is not a UserError (a bug in a stage, most likely). */
export class JobFailed extends Error {
  readonly jobId: string;
  constructor(jobId: string, cause: unknown) {
    super(`Job ${jobId} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "JobFailed";
    this.jobId = jobId;
  }
}

/** The ids `until` selects (a job id, or every job of a kind) together with all their upstream. */
export function selectUntil(plan: Plan, until: string | undefined): Set<string> {
  const all = plan.jobs.map((p) => p.job);
  if (until === undefined) return new Set(all.map((job) => job.id));
  const targets = all.filter((job) => job.id === until || job.kind === until);
  if (targets.length === 0) {
    throw new UserError(`--until ${until}: no job has this id or kind`);
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
  const selected = selectUntil(plan, options.until);
  const todo = (plan.jobs as PlannedJobWithArtifact[]).filter((p) => selected.has(p.job.id));
  const artifacts = new Map<string, Artifact>();
  const results: JobResult[] = [];
  const summary = (): RunSummary => ({
    results,
    ran: results.filter((r) => r.status === "ran").length,
    cached: results.filter((r) => r.status === "cached").length,
    seconds: (performance.now() - started) / 1000,
  });
  display.begin(todo.map((p) => p.job.id));
  try {
    for (const [i, planned] of todo.entries()) {
      if (options.signal?.aborted) throw new RunInterrupted();
      const position = { index: i + 1, total: todo.length };
      const result = await runOne(planned, artifacts, {
        store: plan.store,
        forced: isForced(planned.job, plan.force),
        display,
        position,
        options,
      });
      results.push(result);
      display.jobEnd(result, position);
    }
  } catch (error) {
    display.end(summary(), error);
    throw error;
  }
  const done = summary();
  display.end(done);
  return done;
}

interface RunOneOptions {
  store: CacheStore;
  forced: boolean;
  display: RunDisplay;
  position: { index: number; total: number };
  options: RunOptions;
}

async function runOne(
  planned: PlannedJobWithArtifact,
  artifacts: Map<string, Artifact>,
  { store, forced, display, position, options }: RunOneOptions,
): Promise<JobResult> {
  const t0 = performance.now();
  const job = planned.job;
  const inputs: Record<string, InputArtifact> = {};
  const digests: Record<string, string> = {};
  for (const [name, upstreamId] of Object.entries(job.inputs)) {
    const upstream = artifacts.get(upstreamId);
    if (upstream === undefined) throw new Error(`${job.id}: input ${upstreamId} has not run`);
    inputs[name] = {
      dir: upstream.dir,
      digest: upstream.manifest.digest,
      manifest: upstream.manifest,
    };
    digests[name] = upstream.manifest.digest;
  }
  const material: KeyMaterial = {
    kind: job.kind,
    version: job.version,
    params: job.params,
    inputs: digests,
  };
  const key = jobKey(material, `job ${job.id} params`);
  let reason: RerunReason = "FORCED";
  let detail = "forced";
  if (!forced) {
    // The plan already verified this key's artifact; any other key is looked up now.
    const lookup = planned.key === key && planned.artifact !== undefined
      ? { found: true as const, artifact: planned.artifact }
      : await store.lookup(key);
    const previous = await store.readIndex(job.kind, job.id);
    if (lookup.found) {
      const artifact = lookup.artifact;
      artifacts.set(job.id, artifact);
      if (previous?.key !== key) await recordIndex(store, job, material, artifact);
      return {
        id: job.id,
        kind: job.kind,
        status: "cached",
        key,
        digest: artifact.manifest.digest,
        dir: artifact.dir,
        seconds: (performance.now() - t0) / 1000,
        runSeconds: artifact.manifest.timings.seconds,
      };
    }
    ({ reason, detail } = explainMiss(previous, material, { problem: lookup.problem }));
  }
  display.jobStart(job.id, { ...position, reason, detail });
  const artifact = await execute(job, { store, key, inputs, display, options, material });
  artifacts.set(job.id, artifact);
  await recordIndex(store, job, material, artifact);
  return {
    id: job.id,
    kind: job.kind,
    status: "ran",
    reason,
    detail,
    key,
    digest: artifact.manifest.digest,
    dir: artifact.dir,
    seconds: (performance.now() - t0) / 1000,
    runSeconds: artifact.manifest.timings.seconds,
  };
}

async function execute(
  job: Job,
  context: {
    store: CacheStore;
    key: string;
    inputs: Record<string, InputArtifact>;
    display: RunDisplay;
    options: RunOptions;
    material: KeyMaterial;
  },
): Promise<Artifact> {
  const { store, key, inputs, display, options, material } = context;
  const pending = await store.beginArtifact(key);
  const abort = new AbortController();
  const forward = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", forward, { once: true });
  const startedAt = new Date();
  const t0 = performance.now();
  const ctx: JobContext = {
    id: job.id,
    params: job.params,
    inputs,
    outDir: pending.dataDir,
    signal: abort.signal,
    progress: (done, total, note) => display.jobProgress(job.id, done, total, note),
    log: (line) => {
      Deno.writeTextFileSync(pending.logPath, `${line}\n`, { append: true });
      display.jobLog(job.id, line);
    },
  };
  try {
    await job.run(ctx);
    if (abort.signal.aborted) throw new RunInterrupted(job.id);
    return await store.commitArtifact(pending, {
      kind: job.kind,
      jobId: job.id,
      version: job.version,
      params: job.params,
      inputs: material.inputs,
      timings: { startedAt: startedAt.toISOString(), seconds: (performance.now() - t0) / 1000 },
      backend: options.backend ?? null,
    });
  } catch (error) {
    await store.discardArtifact(pending);
    if (abort.signal.aborted) throw new RunInterrupted(job.id);
    if (error instanceof UserError) {
      throw new UserError(`${job.id}: ${error.message}`, {
        exitCode: error.exitCode,
        cause: error,
      });
    }
    throw new JobFailed(job.id, error);
  } finally {
    options.signal?.removeEventListener("abort", forward);
  }
}

async function recordIndex(
  store: CacheStore,
  job: Job,
  material: KeyMaterial,
  artifact: Artifact,
): Promise<void> {
  await store.writeIndex({
    kind: job.kind,
    jobId: job.id,
    key: artifact.key,
    version: job.version,
    params: job.params,
    inputs: material.inputs,
    digest: artifact.manifest.digest,
  });
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
