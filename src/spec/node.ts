/**
 * The spec as a tree of values that remember where they were written, so that any later error
 * (after merging fragments, overrides and matrix expansion) still points at the right file,
 * line and column. Trees are never mutated: merging and setting build new nodes.
 */
import { isAlias, isMap, isScalar, isSeq, type Node as YamlNode, parseDocument } from "yaml";
import { type Origin, SourceText, SpecError } from "./error.ts";

export type ScalarValue = string | number | boolean | null;

/** Where a scalar's text lies in its source, to place `${var}` errors exactly. */
export interface Span {
  source: SourceText;
  start: number;
  end: number;
}

export interface ScalarNode {
  kind: "scalar";
  value: ScalarValue;
  origin: Origin;
  span: Span | null;
}
export interface MapEntry {
  keyOrigin: Origin;
  value: SpecNode;
}
export interface MapNode {
  kind: "map";
  entries: Map<string, MapEntry>;
  origin: Origin;
}
export interface SeqNode {
  kind: "seq";
  items: SpecNode[];
  origin: Origin;
}
export type SpecNode = ScalarNode | MapNode | SeqNode;

/** True for an absent value or an explicit `null` / `~` / empty value: both mean "the default". */
export function isUnset(node: SpecNode | undefined): node is undefined | ScalarNode {
  return node === undefined || (node.kind === "scalar" && node.value === null);
}

/** How a value reads in an error message: `"2e-3x"`, `12`, `true`, `null`, `a map`, `a list`. */
export function describe(node: SpecNode): string {
  if (node.kind === "map") return "a map";
  if (node.kind === "seq") return "a list";
  return typeof node.value === "string" ? JSON.stringify(node.value) : String(node.value);
}

/** The plain JavaScript value of a node. */
export function toPlain(node: SpecNode): unknown {
  if (node.kind === "scalar") return node.value;
  if (node.kind === "seq") return node.items.map(toPlain);
  return Object.fromEntries([...node.entries].map(([key, entry]) => [key, toPlain(entry.value)]));
}

export function emptyMap(origin: Origin): MapNode {
  return { kind: "map", entries: new Map(), origin };
}

/**
 * Parses `source.text.slice(start, end)` as one YAML document (null when it is empty).
 * Offsets are kept relative to the whole source, so a `--set` value parsed on its own still
 * points at its column in the argument.
 */
export function parseYaml(
  source: SourceText,
  start = 0,
  end = source.text.length,
): SpecNode | null {
  const document = parseDocument(source.text.slice(start, end), { prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError !== undefined) {
    const reason = firstError.message.replace(/\s+at line \d+, column \d+[\s\S]*$/, "");
    throw new SpecError(source.origin(start + firstError.pos[0]), `YAML syntax error: ${reason}`);
  }
  const convert = (node: unknown): SpecNode => {
    const yamlNode = isAlias(node) ? node.resolve(document) : node;
    const range = (yamlNode as YamlNode | undefined)?.range ?? [0, 0, 0];
    const origin = source.origin(start + range[0]);
    if (isScalar(yamlNode)) {
      const value = yamlNode.value;
      if (
        value !== null && typeof value !== "string" && typeof value !== "number" &&
        typeof value !== "boolean"
      ) {
        throw new SpecError(origin, `unsupported YAML value ${String(value)}`);
      }
      const span = { source, start: start + range[0], end: start + range[1] };
      return { kind: "scalar", value, origin, span };
    }
    if (isSeq(yamlNode)) {
      return { kind: "seq", items: yamlNode.items.map(convert), origin };
    }
    if (isMap(yamlNode)) {
      const entries = new Map<string, MapEntry>();
      for (const pair of yamlNode.items) {
        if (!isScalar(pair.key)) {
          const keyRange = (pair.key as YamlNode | null)?.range ?? range;
          throw new SpecError(source.origin(start + keyRange[0]), "keys must be plain names");
        }
        const keyOrigin = source.origin(start + (pair.key.range?.[0] ?? range[0]));
        const value: SpecNode = pair.value === null
          ? { kind: "scalar", value: null, origin: keyOrigin, span: null }
          : convert(pair.value);
        entries.set(String(pair.key.value), { keyOrigin, value });
      }
      return { kind: "map", entries, origin };
    }
    throw new SpecError(origin, "unsupported YAML node");
  };
  return document.contents === null ? null : convert(document.contents);
}

/**
 * `over` on top of `base`: maps merge key by key (recursively), anything else in `over`
 * replaces what `base` had there (lists are replaced, not concatenated).
 */
export function mergeNodes(base: SpecNode, over: SpecNode): SpecNode {
  if (base.kind !== "map" || over.kind !== "map") return over;
  const entries = new Map(base.entries);
  for (const [key, entry] of over.entries) {
    const previous = entries.get(key);
    entries.set(
      key,
      previous === undefined ? entry : { ...entry, value: mergeNodes(previous.value, entry.value) },
    );
  }
  return { kind: "map", entries, origin: over.origin };
}

/** Describes a dotted path for messages: `["train", "lr"]` -> `train.lr`. */
export function joinPath(path: readonly string[]): string {
  return path.join(".");
}

/**
 * A copy of `root` with `value` at `path`, creating missing maps on the way; a created key points
 * at `keyOrigins[depth]` (where that part of the dotted path was written). Stepping into a value
 * that is not a map is an error there.
 */
export function setPath(
  root: MapNode,
  path: readonly string[],
  options: { value: SpecNode; keyOrigins: readonly Origin[] },
): MapNode {
  const setFrom = (map: MapNode, depth: number): MapNode => {
    const key = path[depth];
    if (key === undefined) return map;
    const entries = new Map(map.entries);
    const existing = entries.get(key);
    const written = options.keyOrigins[depth] ?? options.keyOrigins[0] ?? map.origin;
    const keyOrigin = existing?.keyOrigin ?? written;
    if (depth === path.length - 1) {
      entries.set(key, { keyOrigin, value: options.value });
      return { ...map, entries };
    }
    let child: MapNode;
    if (existing === undefined || isUnset(existing.value)) {
      child = emptyMap(written);
    } else if (existing.value.kind === "map") {
      child = existing.value;
    } else {
      const inside = joinPath(path.slice(0, depth + 1));
      throw new SpecError(
        written,
        `cannot set ${joinPath(path)}: ${inside} is ${describe(existing.value)}, not a map`,
      );
    }
    entries.set(key, { keyOrigin, value: setFrom(child, depth + 1) });
    return { ...map, entries };
  };
  return setFrom(root, 0);
}

/** The node at `path`, or undefined. */
export function getPath(root: SpecNode, path: readonly string[]): SpecNode | undefined {
  let node: SpecNode | undefined = root;
  for (const key of path) {
    if (node?.kind !== "map") return undefined;
    node = node.entries.get(key)?.value;
  }
  return node;
}

/** A copy of `map` without `key`. */
export function withoutKey(map: MapNode, key: string): MapNode {
  const entries = new Map(map.entries);
  entries.delete(key);
  return { ...map, entries };
}
