/**
 * The manifest of an artifact (`manifest.json` beside its `data/` folder): what made it, what it
 * holds (every file's SHA-256 and size) and how long it took. The content digest is computed from
 * the file list alone, so two runs that write the same bytes have the same digest whatever their
 * timings.
 */
import { canonicalJson, type JsonValue } from "./canonical_json.ts";
import { sha256Hex } from "./digest.ts";

export const MANIFEST_SCHEMA = 1;

export interface FileEntry {
  sha256: string;
  size: number;
}

export interface Manifest {
  manifestSchema: number;
  keySchema: number;
  key: string;
  kind: string;
  /** The job id that first produced this artifact (another job with the same key may reuse it). */
  jobId: string;
  version: number;
  params: JsonValue;
  /** Content digests of the inputs, by input name. */
  inputs: Record<string, string>;
  /** Content digests of the sources (files outside the cache), by name; absent before key schema 2. */
  sources?: Record<string, string>;
  /** Files under data/, by POSIX relative path, sorted. */
  files: Record<string, FileEntry>;
  /** Content digest: sha256 of the canonical JSON of `files`. */
  digest: string;
  timings: { startedAt: string; seconds: number };
  backend: string | null;
  createdAt: string;
}

export function contentDigest(files: Record<string, FileEntry>): string {
  return sha256Hex(canonicalJson(files));
}

/** Parses a manifest, returning a reason string instead when it is not one. */
export function parseManifest(text: string): Manifest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `manifest.json is not JSON (${(error as Error).message})`;
  }
  if (typeof value !== "object" || value === null) return "manifest.json is not an object";
  const m = value as Partial<Manifest>;
  if (m.manifestSchema !== MANIFEST_SCHEMA) return `manifest schema ${m.manifestSchema}`;
  if (typeof m.key !== "string" || typeof m.digest !== "string") return "manifest lacks key";
  if (typeof m.files !== "object" || m.files === null) return "manifest lacks files";
  for (const [path, entry] of Object.entries(m.files)) {
    if (typeof entry?.sha256 !== "string" || typeof entry.size !== "number") {
      return `manifest entry for ${path} is malformed`;
    }
  }
  if (contentDigest(m.files) !== m.digest) return "manifest digest does not match its file list";
  return m as Manifest;
}
