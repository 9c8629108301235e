/**
 * Job records: `<cache>/jobs/<key>.json`, written when a job's key is known and before it runs.
 * A record holds everything its key is made of, plus where each input artifact and source is:
 * with the stage registry, that is enough to execute the job in another process or on another
 * machine sharing the cache (a cluster worker given only the key). A record whose fields do not
 * hash to its key is refused.
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { JsonValue } from "./canonical_json.ts";
import type { Job, SourceSpec } from "./job.ts";
import { jobKey, KEY_SCHEMA, type KeyMaterial } from "./key.ts";
import { type CacheStore, writeFileAtomic } from "./store.ts";

export const RECORD_SCHEMA = 1;

export interface JobRecord {
  recordSchema: number;
  keySchema: number;
  key: string;
  /** The job id it was planned under (a reused artifact may serve other ids). */
  id: string;
  kind: string;
  version: number;
  params: JsonValue;
  /** Each input: the upstream job, the key of its artifact and that artifact's content digest. */
  inputs: Record<string, { job: string; key: string; digest: string }>;
  /** Each source: what it is and the content digest the key was made with. */
  sources: Record<string, SourceSpec & { digest: string }>;
  createdAt: string;
}

/** The key material a record stands for. */
export function recordMaterial(record: JobRecord): KeyMaterial {
  const digests = (entries: Record<string, { digest: string }>) =>
    Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, entry.digest]));
  return {
    kind: record.kind,
    version: record.version,
    params: record.params,
    inputs: digests(record.inputs),
    sources: digests(record.sources),
  };
}

export function recordPath(store: CacheStore, key: string): string {
  return join(store.jobsDir, `${key}.json`);
}

export async function writeRecord(
  store: CacheStore,
  record: Omit<JobRecord, "recordSchema" | "keySchema" | "createdAt">,
): Promise<JobRecord> {
  const full: JobRecord = {
    recordSchema: RECORD_SCHEMA,
    keySchema: KEY_SCHEMA,
    ...record,
    createdAt: new Date().toISOString(),
  };
  const key = jobKey(recordMaterial(full), `job ${record.id}`);
  if (key !== record.key) {
    throw new Error(`job ${record.id}: record does not hash to ${record.key}`);
  }
  await writeFileAtomic(recordPath(store, record.key), JSON.stringify(full, null, 1));
  return full;
}

/**
 * Writes the record of `job` under `key`, given where each input artifact is (its job, key and
 * digest) and the digest each source was hashed to.
 */
export function writeJobRecord(
  store: CacheStore,
  job: Job,
  at: {
    key: string;
    inputs: Record<string, { job: string; key: string; digest: string }>;
    sources: Record<string, string>;
  },
): Promise<JobRecord> {
  return writeRecord(store, {
    key: at.key,
    id: job.id,
    kind: job.kind,
    version: job.version,
    params: job.params,
    inputs: at.inputs,
    sources: Object.fromEntries(
      Object.entries(job.sources).map(([name, spec]) => [name, {
        ...spec,
        digest: at.sources[name]!,
      }]),
    ),
  });
}

/** The record of `key`; a UserError when there is none or it is not one this version can run. */
export async function readRecord(store: CacheStore, key: string): Promise<JobRecord> {
  const path = recordPath(store, key);
  let record: JobRecord;
  try {
    record = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new UserError(`No job record ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (record.recordSchema !== RECORD_SCHEMA || record.keySchema !== KEY_SCHEMA) {
    throw new UserError(
      `${path}: record schema ${record.recordSchema}, key schema ${record.keySchema}; ` +
        `this version writes ${RECORD_SCHEMA} and ${KEY_SCHEMA}: plan the pipeline again`,
    );
  }
  if (jobKey(recordMaterial(record), path) !== key) {
    throw new UserError(`${path}: its fields do not hash to its key (edited or damaged)`);
  }
  return record;
}
