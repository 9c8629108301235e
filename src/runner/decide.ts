/**
 * Deciding a job once all its inputs have run, the same way whoever then executes it (this
 * process, a local worker, a Slurm job): its key from the inputs' actual content digests and its
 * sources statted again (they may have changed since the plan), then the artifact under that key
 * (verified as the plan verified, reusing the plan's verdict), or why it must run.
 */
import type { Job, RerunReason } from "../cache/job.ts";
import { jobKey, type KeyMaterial } from "../cache/key.ts";
import { explainMiss } from "../cache/reason.ts";
import type { Artifact } from "../cache/store.ts";
import type { ResolvedInput } from "./execute.ts";
import { changedSourceFiles, isForced, lookupOnce, sourceDigests } from "./status.ts";
import type { JobResult, Plan, PlannedJob } from "./types.ts";

export interface DecidedJob {
  job: Job;
  key: string;
  material: KeyMaterial;
  inputs: Record<string, ResolvedInput>;
  /** Each source's content digest, statted just now. */
  sources: Record<string, string>;
  forced: boolean;
  /** The valid artifact under `key` (never for a forced job): nothing to run. */
  cached?: Artifact;
  /** Why it runs, when not cached. */
  reason: RerunReason;
  detail: string;
}

/** Decides `planned`, whose inputs are all in `artifacts` (by job id). */
export async function decideJob(
  planned: PlannedJob,
  artifacts: ReadonlyMap<string, Artifact>,
  plan: Plan,
): Promise<DecidedJob> {
  const job = planned.job;
  const store = plan.store;
  const inputs: Record<string, ResolvedInput> = {};
  const digests: Record<string, string> = {};
  for (const [name, upstreamId] of Object.entries(job.inputs)) {
    const upstream = artifacts.get(upstreamId);
    if (upstream === undefined) throw new Error(`${job.id}: input ${upstreamId} has not run`);
    const digest = upstream.manifest.digest;
    inputs[name] = {
      dir: upstream.dir,
      digest,
      manifest: upstream.manifest,
      key: upstream.key,
      job: upstreamId,
    };
    digests[name] = digest;
  }
  // Stat the sources again: they may have changed since the plan (stat only when they did not).
  const sources = Object.keys(job.sources).length === 0 ? {} : await sourceDigests(store, job);
  const material: KeyMaterial = {
    kind: job.kind,
    version: job.version,
    params: job.params,
    inputs: digests,
    sources,
  };
  const key = jobKey(material, `job ${job.id} params`);
  plan.lease?.register([key]);
  const forced = isForced(job, plan.force);
  const decided = { job, key, material, inputs, sources, forced };
  if (forced) return { ...decided, reason: "FORCED", detail: "forced" };
  const lookup = planned.key === key && planned.artifact !== undefined
    ? { found: true as const, artifact: planned.artifact }
    : await lookupOnce(plan, key);
  const previous = await store.readIndex(job.kind, job.id);
  if (lookup.found) {
    if (previous?.key !== key) await recordIndex(plan, decided, lookup.artifact);
    return { ...decided, cached: lookup.artifact, reason: "MISSING", detail: "cached" };
  }
  const changedFiles = await changedSourceFiles(store, previous, sources);
  return {
    ...decided,
    ...explainMiss(previous, material, { problem: lookup.problem, changedFiles }),
  };
}

/** Remembers that `decided.job`'s identity now has this key (what the next plan compares with). */
export async function recordIndex(
  plan: Plan,
  decided: Pick<DecidedJob, "job" | "key" | "material">,
  artifact: Artifact,
): Promise<void> {
  const { job, material, key } = decided;
  await plan.store.writeIndex({
    kind: job.kind,
    jobId: job.id,
    key,
    version: job.version,
    params: job.params,
    inputs: material.inputs,
    sources: material.sources,
    digest: artifact.manifest.digest,
  });
}

/** Where each input artifact of `decided` is, as a job record holds it. */
export function recordInputs(
  decided: Pick<DecidedJob, "inputs">,
): Record<string, { job: string; key: string; digest: string }> {
  return Object.fromEntries(
    Object.entries(decided.inputs).map(([name, input]) => [
      name,
      { job: input.job, key: input.key, digest: input.digest },
    ]),
  );
}

/** The result of a decided job, with its artifact. */
export function jobResult(
  decided: Pick<DecidedJob, "job" | "key">,
  artifact: Artifact,
  outcome: {
    status: "cached" | "ran";
    reason?: RerunReason;
    detail?: string;
    /** performance.now() when this process started on the job. */
    since: number;
  },
): JobResult {
  const { status, reason, detail, since } = outcome;
  return {
    id: decided.job.id,
    kind: decided.job.kind,
    status,
    ...(reason === undefined ? {} : { reason, detail }),
    key: decided.key,
    digest: artifact.manifest.digest,
    dir: artifact.dir,
    seconds: (performance.now() - since) / 1000,
    runSeconds: artifact.manifest.timings.seconds,
  };
}
