/**
 * Computing one job whose key is known, the same way for a pipeline run and for a job executed
 * from its record (another process, another machine): take the key's lock (waiting while another
 * process computes it, then using its artifact), look again, write the job record, run the stage
 * into a temporary folder, check the sources did not change while it read them, and commit the
 * folder as the key's artifact, replacing whatever was there (a corrupt artifact, or the previous
 * output of a forced job).
 */
import type {
  InputArtifact,
  Job,
  JobContext,
  JobResources,
  MachineSettings,
  SourceInput,
  StageRunner,
} from "../cache/job.ts";
import type { KeyMaterial } from "../cache/key.ts";
import type { HolderInfo } from "../cache/lock.ts";
import { writeJobRecord } from "../cache/record.ts";
import type { Artifact, CacheStore, PendingArtifact, Verification } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { isEnvironmentError, isOutOfSpace, JobFailed, RunInterrupted } from "./errors.ts";
import type { ResourcePool } from "./resources.ts";

/** An input artifact with the key it is stored under. */
export type ResolvedInput = InputArtifact & { key: string; job: string };

export interface ComputeRequest {
  store: CacheStore;
  stage: StageRunner;
  job: Job;
  key: string;
  material: KeyMaterial;
  inputs: Record<string, ResolvedInput>;
  sources: Record<string, SourceInput>;
  /** Run even when a valid artifact exists; the new output replaces it. */
  forced: boolean;
  verify: Verification;
  signal?: AbortSignal;
  /** The run's machine settings, which the job sees as `ctx.machine`. */
  machine: MachineSettings;
  /** The run's resources, as this job's lease (the caller releases it). */
  resources: JobResources;
  progress(done: number, total: number, note?: string): void;
  log(line: string): void;
  /** Told once when another process holds the key's lock and this one waits for it. */
  waiting?(holder: HolderInfo | null): void;
}

/** What jobs see of a run's machine settings. */
export function machineSettings(
  options: { backend?: string; inference?: { engine: string; device: string } },
): MachineSettings {
  return { backend: options.backend ?? null, inference: options.inference ?? null };
}

/** `computeJob` with a lease on the run's `pool` for as long as the job runs. */
export async function computeLeased(
  request: Omit<ComputeRequest, "resources">,
  pool: ResourcePool,
): Promise<Computed> {
  const lease = pool.lease();
  try {
    return await computeJob({ ...request, resources: lease });
  } finally {
    await lease.release();
  }
}

/** What a process waiting for `holder`'s lock tells its user. */
export function waitingMessage(holder: HolderInfo | null): string {
  const who = holder === null ? "another process" : `pid ${holder.pid} on ${holder.host}`;
  const since = holder === null ? "" : ` (since ${holder.since})`;
  return `waiting: ${who} is computing it${since}`;
}

export interface Computed {
  artifact: Artifact;
  /** False when another process computed it while this one waited for the lock. */
  computed: boolean;
}

export async function computeJob(request: ComputeRequest): Promise<Computed> {
  const { store, job, key, forced, signal } = request;
  let lock;
  try {
    lock = await store.locks.acquire(key, job.id, { signal, onWait: request.waiting });
  } catch (error) {
    if (signal?.aborted) throw new RunInterrupted(job.id, signal.reason);
    throw error;
  }
  try {
    if (!forced) {
      const lookup = await store.lookup(key, { verify: request.verify });
      if (lookup.found) return { artifact: lookup.artifact, computed: false };
    }
    await writeJobRecord(store, job, {
      key,
      inputs: Object.fromEntries(
        Object.entries(request.inputs).map(([name, input]) => [
          name,
          { job: input.job, key: input.key, digest: input.digest },
        ]),
      ),
      sources: request.material.sources,
    });
    const artifact = await execute(request);
    await store.writeIndex({
      kind: job.kind,
      jobId: job.id,
      key,
      version: job.version,
      params: job.params,
      inputs: request.material.inputs,
      sources: request.material.sources,
      digest: artifact.manifest.digest,
    });
    return { artifact, computed: true };
  } finally {
    await store.locks.release(lock);
  }
}

async function execute(request: ComputeRequest): Promise<Artifact> {
  const { store, stage, job, key, signal } = request;
  const pending = await store.beginArtifact(key);
  const abort = new AbortController();
  const forward = () => abort.abort(signal?.reason);
  if (signal?.aborted) forward();
  signal?.addEventListener("abort", forward, { once: true });
  const startedAt = new Date();
  const t0 = performance.now();
  let stats: object | null = null;
  const ctx: JobContext = {
    id: job.id,
    inputs: request.inputs,
    sources: request.sources,
    outDir: pending.dataDir,
    signal: abort.signal,
    progress: request.progress,
    log: (line) => {
      Deno.writeTextFileSync(pending.logPath, `${line}\n`, { append: true });
      request.log(line);
    },
    machine: request.machine,
    resources: request.resources,
    recordStats: (figures) => stats = figures,
  };
  try {
    await stage.run(ctx, job.params);
    if (abort.signal.aborted) throw abort.signal.reason;
    await checkSourcesUnchanged(request);
    return await store.commitArtifact(pending, {
      kind: job.kind,
      jobId: job.id,
      version: job.version,
      params: job.params,
      inputs: request.material.inputs,
      sources: request.material.sources,
      timings: { startedAt: startedAt.toISOString(), seconds: (performance.now() - t0) / 1000 },
      backend: request.machine.backend,
    }, { stats });
  } catch (error) {
    await store.discardArtifact(pending).catch(() => {});
    throw jobError(job, error, { aborted: abort.signal, pending });
  } finally {
    signal?.removeEventListener("abort", forward);
  }
}

/**
 * A source rewritten while the job read it would give an artifact its key does not describe:
 * such output is discarded.
 */
async function checkSourcesUnchanged(request: ComputeRequest): Promise<void> {
  for (const [name, spec] of Object.entries(request.job.sources)) {
    const now = await request.store.sources.digest(spec);
    if (now.digest !== request.sources[name]?.digest) {
      throw new UserError(
        `${spec.path} changed while the job read it (its ${name} source); run again`,
      );
    }
  }
}

/** The error a failed job reports: one line naming the job (and the folder, for a full disk). */
function jobError(
  job: Job,
  error: unknown,
  context: { aborted: AbortSignal; pending: PendingArtifact },
): Error {
  if (context.aborted.aborted) return new RunInterrupted(job.id, context.aborted.reason);
  if (error instanceof UserError) {
    return new UserError(`${job.id}: ${error.message}`, { exitCode: error.exitCode, cause: error });
  }
  if (isEnvironmentError(error)) {
    // A full disk or quota names no file when a write fails: say where the job was writing.
    const where = isOutOfSpace(error) ? ` (writing its output in ${context.pending.tmpDir})` : "";
    return new UserError(`${job.id}: ${error.message}${where}`, { cause: error });
  }
  return new JobFailed(job.id, error);
}
