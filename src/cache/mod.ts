/**
 * The artifact cache: canonical JSON, digests, job keys, the store, source digests and the state
 * table, locks and run registrations, job records, rerun reasons, gc.
 */
export { canonicalJson, jsonEqual, type JsonValue } from "./canonical_json.ts";
export { sha256File, sha256Hex } from "./digest.ts";
export type {
  InputArtifact,
  Job,
  JobContext,
  RerunReason,
  SourceInput,
  SourceSpec,
  StageRegistry,
  StageRunner,
} from "./job.ts";
export { jobKey, KEY_SCHEMA, type KeyMaterial } from "./key.ts";
export { contentDigest, type Manifest } from "./manifest.ts";
export { diffJson, explainMiss, type Explanation } from "./reason.ts";
export { type HeldLock, type HolderInfo, Locks, RunLease } from "./lock.ts";
export { type JobRecord, readRecord, writeRecord } from "./record.ts";
export { ABSENT_DIGEST, type HashProgress, type SourceDigest, SourceHasher } from "./sources.ts";
export {
  type Artifact,
  CacheStore,
  defaultCacheRoot,
  type IndexEntry,
  type Lookup,
  type PendingArtifact,
  type Verification,
} from "./store.ts";
