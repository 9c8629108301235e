/**
 * Why a job whose key has no valid artifact must run, found by comparing what its key is made of
 * now with what the job identity's last recorded key was made of (the cache index).
 */
import { canonicalJson, type JsonValue } from "./canonical_json.ts";
import type { RerunReason } from "./job.ts";
import { KEY_SCHEMA, type KeyMaterial } from "./key.ts";
import type { IndexEntry } from "./store.ts";

export interface Explanation {
  reason: RerunReason;
  /**
   * Human-readable detail: "lr: 0.001 -> 0.002", "input model changed", "data changed, 3 files",
   * "never run".
   */
  detail: string;
}

/**
 * `previous` is the identity's index entry (null when it never ran); `problem` is what lookup
 * reported about the artifact under the current key (null when there simply is none);
 * `changedFiles` says, per source whose digest changed, how many of its files did (null: unknown).
 * Precedence when several things changed: VERSION, then PARAMS, then INPUT (inputs and sources).
 */
export function explainMiss(
  previous: IndexEntry | null,
  current: KeyMaterial,
  options: { problem?: string | null; changedFiles?: Record<string, number | null> } = {},
): Explanation {
  const problem = options.problem ?? null;
  if (previous === null) {
    return { reason: "MISSING", detail: problem ?? "never run" };
  }
  if (previous.keySchema !== KEY_SCHEMA) {
    return { reason: "VERSION", detail: `cache key schema ${previous.keySchema} -> ${KEY_SCHEMA}` };
  }
  if (previous.version !== current.version) {
    return {
      reason: "VERSION",
      detail: `${current.kind} stage version ${previous.version} -> ${current.version}`,
    };
  }
  const paramChanges = diffJson(previous.params, current.params);
  if (paramChanges.length > 0) {
    const shown = paramChanges.slice(0, 3).join(", ");
    const more = paramChanges.length > 3 ? ` and ${paramChanges.length - 3} more` : "";
    return { reason: "PARAMS", detail: shown + more };
  }
  const sources = changedNames(previous.sources ?? {}, current.sources).map((name) => {
    const count = options.changedFiles?.[name];
    return typeof count === "number"
      ? `${name} changed, ${count} file${count === 1 ? "" : "s"}`
      : `${name} changed`;
  });
  const inputs = changedNames(previous.inputs, current.inputs);
  if (sources.length > 0 || inputs.length > 0) {
    const parts = inputs.length > 0 ? [...sources, `input ${inputs.join(", ")} changed`] : sources;
    return { reason: "INPUT", detail: parts.join("; ") };
  }
  return {
    reason: "MISSING",
    detail: problem === null ? "artifact was removed" : `artifact is corrupt: ${problem}`,
  };
}

/** Names whose digest differs between two name -> digest maps (added and removed included). */
export function changedNames(
  before: Record<string, string>,
  after: Record<string, string>,
): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].sort().filter((name) => before[name] !== after[name]);
}

/** Leaf-level differences as "path: old -> new" (canonical JSON values), sorted by path. */
export function diffJson(before: JsonValue, after: JsonValue, path = ""): string[] {
  const isObject = (v: JsonValue): v is Record<string, JsonValue> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const at = path === "" ? key : `${path}.${key}`;
      const a = before[key];
      const b = after[key];
      if (a === undefined) return [`${at}: added ${short(b as JsonValue)}`];
      if (b === undefined) return [`${at}: removed`];
      return diffJson(a, b, at);
    });
  }
  if (canonicalJson(before) === canonicalJson(after)) return [];
  return [`${path === "" ? "params" : path}: ${short(before)} -> ${short(after)}`];
}

function short(value: JsonValue): string {
  const text = canonicalJson(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
