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
  /** Human-readable detail: "lr: 0.001 -> 0.002", "input model changed", "never run". */
  detail: string;
}

/**
 * `previous` is the identity's index entry (null when it never ran); `problem` is what lookup
 * reported about the artifact under the current key (null when there simply is none).
 * Precedence when several things changed: VERSION, then PARAMS, then INPUT.
 */
export function explainMiss(
  previous: IndexEntry | null,
  current: KeyMaterial,
  options: { problem?: string | null } = {},
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
  const names = new Set([...Object.keys(previous.inputs), ...Object.keys(current.inputs)]);
  const changed = [...names].sort().filter((name) =>
    previous.inputs[name] !== current.inputs[name]
  );
  if (changed.length > 0) {
    return { reason: "INPUT", detail: `input ${changed.join(", ")} changed` };
  }
  return {
    reason: "MISSING",
    detail: problem === null ? "artifact was removed" : `artifact is corrupt: ${problem}`,
  };
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
