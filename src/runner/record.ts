/**
 * Executing one job from its record alone (`<cache>/jobs/<key>.json`), as a worker process given
 * only a key does: the record names the stage kind, version and params, the keys and digests of
 * its input artifacts and its sources with their digests. The inputs must be in the cache and
 * verify; the sources must still have the recorded content; the stage registry supplies `run`.
 * The artifact then lands under the same key as if the pipeline run had computed it.
 */
import type { Job, SourceInput, StageRegistry } from "../cache/job.ts";
import type { HolderInfo } from "../cache/lock.ts";
import { readRecord, recordMaterial } from "../cache/record.ts";
import type { CacheStore, Verification } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import { computeLeased, machineSettings, type ResolvedInput } from "./execute.ts";
import { ResourcePool } from "./resources.ts";
import type { JobResult } from "./types.ts";

export interface RecordedJobOptions {
  stages: StageRegistry;
  /** Run even when the artifact exists (its new output replaces it). */
  force?: boolean;
  verify?: Verification;
  signal?: AbortSignal;
  /** The TF.js backend in use, as `runJobs` takes it. */
  backend?: string;
  /**
   * The inference engine and device asked for, as the driver was given them (not resolved: this
   * process resolves `auto` on its own machine). Default auto / auto.
   */
  inference?: { engine: string; device: string };
  /**
   * Values kept between jobs; by default a pool of this call's own, freed when it returns (a
   * worker executing one job builds its model state, and frees it, by itself).
   */
  resources?: ResourcePool;
  progress?: (done: number, total: number, note?: string) => void;
  log?: (line: string) => void;
  /** Told once when another process holds the key's lock and this one waits for it. */
  waiting?: (holder: HolderInfo | null) => void;
}

export async function runRecordedJob(
  store: CacheStore,
  key: string,
  options: RecordedJobOptions,
): Promise<JobResult> {
  const t0 = performance.now();
  const record = await readRecord(store, key);
  const stage = options.stages[record.kind];
  if (stage === undefined) {
    throw new UserError(`Job ${record.id} (${key}): no stage of kind "${record.kind}" here`);
  }
  const version = stage.versionOf(record.params);
  if (version !== record.version) {
    throw new UserError(
      `Job ${record.id}: recorded with ${record.kind} version ${record.version}, this code has ` +
        `${version}: plan the pipeline again`,
    );
  }
  const verify = options.verify ?? "stamp";
  const inputs: Record<string, ResolvedInput> = {};
  for (const [name, entry] of Object.entries(record.inputs)) {
    const lookup = await store.lookup(entry.key, { verify });
    if (!lookup.found || lookup.artifact.manifest.digest !== entry.digest) {
      const why = lookup.found ? "holds other content" : (lookup.problem ?? "is missing");
      throw new UserError(
        `Job ${record.id}: input ${name} (${entry.job}, artifact ${entry.key}) ${why}; ` +
          `run ${entry.job} first`,
      );
    }
    const { dir, manifest } = lookup.artifact;
    inputs[name] = { dir, digest: entry.digest, manifest, key: entry.key, job: entry.job };
  }
  const sources: Record<string, SourceInput> = {};
  for (const [name, entry] of Object.entries(record.sources)) {
    const now = await store.sources.digest(entry);
    if (now.digest !== entry.digest) {
      throw new UserError(
        `Job ${record.id}: ${entry.path} (its ${name} source) changed since the job was ` +
          `planned; plan the pipeline again`,
      );
    }
    sources[name] = { path: entry.path, digest: entry.digest };
  }
  await store.sources.save();
  const job: Job = {
    id: record.id,
    kind: record.kind,
    version: record.version,
    params: record.params,
    inputs: Object.fromEntries(Object.entries(record.inputs).map(([n, e]) => [n, e.job])),
    sources: Object.fromEntries(
      Object.entries(record.sources).map(([name, { path, depth }]) => [name, { path, depth }]),
    ),
  };
  const pool = options.resources ?? new ResourcePool();
  let outcome;
  try {
    outcome = await computeLeased({
      store,
      stage,
      job,
      key,
      material: recordMaterial(record),
      inputs,
      sources,
      forced: options.force ?? false,
      verify,
      signal: options.signal,
      machine: machineSettings(options),
      progress: options.progress ?? (() => {}),
      log: options.log ?? (() => {}),
      waiting: options.waiting,
    }, pool);
  } finally {
    if (options.resources === undefined) await pool.dispose();
  }
  const { artifact, computed } = outcome;
  return {
    id: record.id,
    kind: record.kind,
    status: computed ? "ran" : "cached",
    key,
    digest: artifact.manifest.digest,
    dir: artifact.dir,
    seconds: (performance.now() - t0) / 1000,
    runSeconds: artifact.manifest.timings.seconds,
  };
}
