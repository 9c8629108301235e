/** The artifact cache: canonical JSON, digests, job keys, the store, rerun reasons, gc. */
export { canonicalJson, jsonEqual, type JsonValue } from "./canonical_json.ts";
export { sha256File, sha256Hex } from "./digest.ts";
export type { InputArtifact, Job, JobContext, RerunReason } from "./job.ts";
export { jobKey, KEY_SCHEMA, type KeyMaterial } from "./key.ts";
export { contentDigest, type Manifest } from "./manifest.ts";
export { diffJson, explainMiss, type Explanation } from "./reason.ts";
export {
  type Artifact,
  CacheStore,
  defaultCacheRoot,
  type IndexEntry,
  type Lookup,
  type PendingArtifact,
  type Verification,
} from "./store.ts";
