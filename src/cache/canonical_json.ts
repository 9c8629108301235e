/**
 * Canonical JSON: the one byte string a JSON value hashes to. Object keys are sorted by UTF-16
 * code unit, there is no whitespace, numbers are printed the way ECMAScript's Number#toString
 * prints them (shortest round-trip form, deterministic across engines; -0 prints as 0).
 * Anything JSON cannot carry exactly (undefined, NaN, Infinity, functions, bigint, symbols,
 * class instances such as Date or Map, sparse array holes) is rejected instead of being dropped
 * or coerced, since a silently dropped field would make two different jobs share one key.
 */
import { UserError } from "../errors.ts";

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/** Canonical JSON text of `value`; `where` names the value in error messages (e.g. a job id). */
export function canonicalJson(value: unknown, where = "value"): string {
  const parts: string[] = [];
  write(value, where, parts, new Set());
  return parts.join("");
}

function write(value: unknown, path: string, out: string[], open: Set<object>): void {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new UserError(`${path}: ${value} cannot be written as canonical JSON`);
      }
      out.push(Object.is(value, -0) ? "0" : String(value));
      return;
    case "object":
      break;
    default:
      throw new UserError(`${path}: a ${typeof value} cannot be written as canonical JSON`);
  }
  if (value === null) {
    out.push("null");
    return;
  }
  if (open.has(value)) throw new UserError(`${path}: cyclic value cannot be written as JSON`);
  open.add(value);
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      if (!(i in value)) throw new UserError(`${path}[${i}]: sparse array hole in canonical JSON`);
      write(value[i], `${path}[${i}]`, out, open);
    }
    out.push("]");
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
      throw new UserError(`${path}: a ${name} cannot be written as canonical JSON`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    out.push("{");
    keys.forEach((key, i) => {
      if (i > 0) out.push(",");
      out.push(JSON.stringify(key), ":");
      write(record[key], `${path}.${key}`, out, open);
    });
    out.push("}");
  }
  open.delete(value);
}

/** True when `a` and `b` have the same canonical JSON. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
