/**
 * Job keys: the address of an artifact in the cache. A key is the SHA-256 of the canonical JSON of
 * everything that determines a job's output, and of nothing else:
 *   { keySchema, kind, version, params, inputs: { <name>: <input content digest> },
 *     sources: { <name>: <source content digest> } }
 * Inputs enter by their CONTENT digest (not their key), so an upstream job that reruns and writes
 * the same bytes leaves every downstream key, and so every downstream artifact, unchanged. Sources
 * (files outside the cache: weights, a dataset folder) enter by the digest of their files' bytes.
 * Changing this algorithm is deliberate: bump KEY_SCHEMA, which changes every key.
 */
import { canonicalJson, type JsonValue } from "./canonical_json.ts";
import { sha256Hex } from "./digest.ts";

/** 2: source digests joined the key (1 had params and input digests only). */
export const KEY_SCHEMA = 2;

/** What a job's key is computed from. */
export interface KeyMaterial {
  kind: string;
  /** The stage implementation's version: bump it when the same params would give other bytes. */
  version: number;
  params: JsonValue;
  /** Content digest of each input artifact, by input name. */
  inputs: Record<string, string>;
  /** Content digest of each source (file or folder outside the cache), by source name. */
  sources: Record<string, string>;
}

export function jobKey(material: KeyMaterial, where = "job"): string {
  const { kind, version, params, inputs, sources } = material;
  return sha256Hex(
    canonicalJson({ keySchema: KEY_SCHEMA, kind, version, params, inputs, sources }, where),
  );
}
