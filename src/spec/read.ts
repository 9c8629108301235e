/**
 * Typed reads from a spec map: each read checks the type and range of one field, fills its
 * default, and throws a SpecError at the field's value when it is wrong. Constructing a
 * `Section` rejects keys it does not know, at the key, with a "did you mean" hint.
 */
import { dirname, resolve } from "node:path";
import { didYouMean, type Origin, SpecError } from "./error.ts";
import { describe, isUnset, type MapNode, type SpecNode } from "./node.ts";

export class Section {
  readonly #node: MapNode | null;
  /** Where errors about a missing field point: the section itself, or its parent. */
  readonly origin: Origin;

  /**
   * `node` is the section's value (absent or null = all defaults); `path` its dotted name ("" at
   * the top); `known` the keys it accepts; `fallback` where to point when the section is absent.
   */
  constructor(
    readonly path: string,
    node: SpecNode | undefined,
    options: { known: readonly string[]; fallback: Origin },
  ) {
    if (isUnset(node)) {
      this.#node = null;
      this.origin = node?.origin ?? options.fallback;
      return;
    }
    if (node.kind !== "map") {
      throw new SpecError(node.origin, `${path}: expected a map, got ${describe(node)}`);
    }
    for (const [key, entry] of node.entries) {
      if (!options.known.includes(key)) {
        const hint = didYouMean(key, options.known) ||
          ` (expected one of: ${options.known.join(", ")})`;
        const where = path === "" ? "unknown top-level key" : `${path}: unknown key`;
        throw new SpecError(entry.keyOrigin, `${where} "${key}"${hint}`);
      }
    }
    this.#node = node;
    this.origin = node.origin;
  }

  /** The dotted path of a field. */
  pathOf(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  /** A field's value; undefined when absent or null (both mean "use the default"). */
  get(key: string): SpecNode | undefined {
    const node = this.#node?.entries.get(key)?.value;
    return isUnset(node) ? undefined : node;
  }

  /** Where errors about a field point: its value, or the section when it is absent. */
  originOf(key: string): Origin {
    return this.get(key)?.origin ?? this.origin;
  }

  /** A sub-section (a nested map). */
  section(key: string, known: readonly string[]): Section {
    return new Section(this.pathOf(key), this.get(key), { known, fallback: this.origin });
  }
}

export interface NumberRange {
  integer?: boolean;
  min?: number;
  max?: number;
  /** Exclusive bounds. */
  above?: number;
  below?: number;
}

/** A number from a node, checked against `range`; `path` names it in errors. */
export function numberFrom(node: SpecNode, path: string, range: NumberRange = {}): number {
  const integer = range.integer ?? false;
  if (node.kind !== "scalar" || typeof node.value !== "number" || !Number.isFinite(node.value)) {
    throw new SpecError(
      node.origin,
      `${path}: expected ${integer ? "an integer" : "a number"}, got ${describe(node)}`,
    );
  }
  const value = node.value;
  const fail = (rule: string) => {
    throw new SpecError(node.origin, `${path}: must be ${rule}, got ${value}`);
  };
  if (integer && !Number.isInteger(value)) fail("an integer");
  if (range.min !== undefined && value < range.min) fail(`at least ${range.min}`);
  if (range.max !== undefined && value > range.max) fail(`at most ${range.max}`);
  if (range.above !== undefined && value <= range.above) fail(`greater than ${range.above}`);
  if (range.below !== undefined && value >= range.below) fail(`less than ${range.below}`);
  return value;
}

export function readNumber(
  section: Section,
  key: string,
  options: NumberRange & { default: number },
): number {
  const node = section.get(key);
  return node === undefined ? options.default : numberFrom(node, section.pathOf(key), options);
}

export function readBoolean(section: Section, key: string, fallback: boolean): boolean {
  const node = section.get(key);
  if (node === undefined) return fallback;
  if (node.kind !== "scalar" || typeof node.value !== "boolean") {
    throw new SpecError(
      node.origin,
      `${section.pathOf(key)}: expected true or false, got ${describe(node)}`,
    );
  }
  return node.value;
}

/** A non-empty string from a node. */
export function stringFrom(node: SpecNode, path: string): string {
  if (node.kind !== "scalar" || typeof node.value !== "string" || node.value === "") {
    throw new SpecError(node.origin, `${path}: expected a non-empty string, got ${describe(node)}`);
  }
  return node.value;
}

export function readString(section: Section, key: string, fallback: string): string {
  const node = section.get(key);
  return node === undefined ? fallback : stringFrom(node, section.pathOf(key));
}

/** One of `choices`; `what` names the kind in errors ("method", "backend"). */
export function choiceFrom<T extends string>(
  node: SpecNode,
  path: string,
  options: { choices: readonly T[]; what: string },
): T {
  const { choices, what } = options;
  if (node.kind === "scalar" && choices.includes(node.value as T)) return node.value as T;
  const got = node.kind === "scalar" && node.value !== null ? String(node.value) : "";
  const hint = got === "" ? "" : didYouMean(got, choices);
  throw new SpecError(
    node.origin,
    `${path}: unknown ${what} ${describe(node)}${hint}; expected one of: ${choices.join(", ")}`,
  );
}

export function readChoice<T extends string>(
  section: Section,
  key: string,
  options: { choices: readonly T[]; what: string; default: T },
): T {
  const node = section.get(key);
  return node === undefined ? options.default : choiceFrom(node, section.pathOf(key), options);
}

/** The items of a list node (a non-list is an error naming `what` the items should be). */
export function listFrom(
  node: SpecNode,
  path: string,
  options: { what: string; nonEmpty?: boolean },
): SpecNode[] {
  if (node.kind !== "seq") {
    throw new SpecError(
      node.origin,
      `${path}: expected a list of ${options.what}, got ${describe(node)}`,
    );
  }
  if ((options.nonEmpty ?? true) && node.items.length === 0) {
    throw new SpecError(
      node.origin,
      `${path}: expected at least one ${options.what.replace(/s$/, "")}`,
    );
  }
  return node.items;
}

/** Rejects the second occurrence of a value in a list of plain values. */
export function rejectDuplicates<T>(
  values: readonly T[],
  nodes: readonly SpecNode[],
  path: string,
) {
  values.forEach((value, index) => {
    if (values.indexOf(value) !== index) {
      const node = nodes[index];
      if (node === undefined) return;
      throw new SpecError(node.origin, `${path}[${index}]: ${describe(node)} is listed twice`);
    }
  });
}

/** A list of distinct `choices`. */
export function readChoiceList<T extends string>(
  section: Section,
  key: string,
  options: { choices: readonly T[]; what: string; default: readonly T[] },
): T[] {
  const node = section.get(key);
  if (node === undefined) return [...options.default];
  const path = section.pathOf(key);
  const items = listFrom(node, path, { what: `${options.what}s` });
  const values = items.map((item, index) => choiceFrom(item, `${path}[${index}]`, options));
  rejectDuplicates(values, items, path);
  return values;
}

/**
 * A path, resolved against the folder of the file that wrote it (the working folder for a
 * command-line value); null when absent.
 */
export function readPath(section: Section, key: string, cwd: string): string | null {
  const node = section.get(key);
  if (node === undefined) return null;
  const written = stringFrom(node, section.pathOf(key));
  return resolve(node.origin.path === null ? cwd : dirname(node.origin.path), written);
}
