/**
 * compileSpec: a pipeline YAML file -> one fully resolved Pipeline per run.
 * Steps, in order: read the file and its `extends` fragments (merged, later wins) -> apply
 * `--set` overrides -> expand `matrix` into runs -> per run, interpolate `${...}` and validate.
 */
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Origin, SourceText, SpecError } from "./error.ts";
import { interpolate } from "./interpolate.ts";
import { loadSpecTree, loadYamlFile } from "./load.ts";
import { matrixPointName } from "./point.ts";
import {
  getPath,
  isUnset,
  joinPath,
  type MapNode,
  parseYaml,
  setPath,
  type SpecNode,
  toPlain,
  withoutKey,
} from "./node.ts";
import { readOrders, toPipeline } from "./schema.ts";
import type { CompiledSpec, CompileOptions, Pipeline } from "./types.ts";

/** Where the named task orders (I, II) live. */
export const ORDERS_FILE = fileURLToPath(
  new URL("../../configs/benchmarks/mtil/orders.yaml", import.meta.url),
);

/** Top-level keys that `--set` and `matrix` may not change: they shape loading itself. */
const FIXED_KEYS = ["extends", "matrix"];

interface Assignment {
  path: string[];
  value: SpecNode;
  /** Where each part of the dotted path was written. */
  keyOrigins: Origin[];
}

/** The origin of each part of a dotted path written at `origin` (on one line). */
function partOrigins(path: readonly string[], origin: Origin): Origin[] {
  let column = origin.column;
  return path.map((part) => {
    const at = { ...origin, column };
    column += part.length + 1;
    return at;
  });
}

/** Parses `NAME=value` arguments (`--set a.b=1`, `--var x=1`), the value as YAML. */
function parseAssignment(argument: string, flag: "--set" | "--var"): Assignment {
  const source = new SourceText(flag, null, argument);
  const equals = argument.indexOf("=");
  if (equals <= 0) {
    throw new SpecError(source.origin(0), `${flag}: expected NAME=value, got "${argument}"`);
  }
  const path = argument.slice(0, equals).split(".");
  const emptyAt = path.findIndex((key) => key === "");
  if (emptyAt !== -1 || (flag === "--var" && path.length > 1)) {
    throw new SpecError(source.origin(0), `${flag}: bad name "${argument.slice(0, equals)}"`);
  }
  const value = parseYaml(source, equals + 1) ??
    { kind: "scalar", value: null, origin: source.origin(equals + 1), span: null };
  return { path, value, keyOrigins: partOrigins(path, source.origin(0)) };
}

/** The matrix: dotted path -> the values it takes, each with where it was written. */
interface MatrixAxis {
  path: string[];
  keyOrigins: Origin[];
  values: SpecNode[];
}

function readMatrix(node: SpecNode | undefined): MatrixAxis[] {
  if (isUnset(node)) return [];
  if (node.kind !== "map") {
    throw new SpecError(node.origin, `matrix: expected a map of dotted paths to lists`);
  }
  return [...node.entries].map(([key, entry]) => {
    const path = key.split(".");
    if (path.some((part) => part === "") || FIXED_KEYS.includes(path[0] ?? "")) {
      throw new SpecError(entry.keyOrigin, `matrix: cannot vary "${key}"`);
    }
    if (path[0] === "name") {
      throw new SpecError(entry.keyOrigin, `matrix: cannot vary "name": runs are named for you`);
    }
    const list = entry.value;
    if (list.kind !== "seq" || list.items.length === 0) {
      throw new SpecError(list.origin, `matrix.${key}: expected a non-empty list of values`);
    }
    const seen = new Set<string>();
    for (const item of list.items) {
      const text = JSON.stringify(toPlain(item));
      if (seen.has(text)) {
        throw new SpecError(item.origin, `matrix.${key}: ${text} is listed twice`);
      }
      seen.add(text);
    }
    return { path, keyOrigins: partOrigins(path, entry.keyOrigin), values: list.items };
  });
}

/** Every combination of one value per axis; the first axis varies slowest. */
function cartesian(axes: MatrixAxis[]): SpecNode[][] {
  return axes.reduce<SpecNode[][]>(
    (points, axis) => points.flatMap((point) => axis.values.map((value) => [...point, value])),
    [[]],
  );
}

/** A matrix value in a run name: scalars as written, lists as `[a,b]`, maps as JSON. */
function variablesOf(tree: MapNode, cliVariables: Assignment[]): Map<string, SpecNode> {
  const values = new Map<string, SpecNode>();
  const varsNode = tree.entries.get("vars")?.value;
  if (!isUnset(varsNode)) {
    if (varsNode.kind !== "map") {
      throw new SpecError(varsNode.origin, "vars: expected a map of variable names to values");
    }
    for (const [name, entry] of varsNode.entries) values.set(name, entry.value);
  }
  for (const variable of cliVariables) values.set(variable.path[0] ?? "", variable.value);
  return values;
}

/**
 * Compiles the spec at `path` into its runs. Every mistake throws a SpecError (exit code 2) that
 * names the file, line and column.
 */
export function compileSpec(path: string, options: CompileOptions = {}): CompiledSpec {
  const cwd = options.cwd ?? Deno.cwd();
  const specFile = resolve(cwd, path);
  const sources: string[] = [];
  const context = { cwd, sources };
  let tree = loadSpecTree(specFile, context);

  const sets = (options.set ?? []).map((argument) => parseAssignment(argument, "--set"));
  const axes = readMatrix(tree.entries.get("matrix")?.value);
  for (const set of sets) {
    const dotted = joinPath(set.path);
    if (FIXED_KEYS.includes(set.path[0] ?? "")) {
      throw new SpecError(set.keyOrigins[0] ?? null, `--set: cannot change "${dotted}"`);
    }
    const axis = axes.find((candidate) => joinPath(candidate.path) === dotted);
    if (axis !== undefined) {
      const [axisOrigin] = axis.keyOrigins;
      const at = axisOrigin ? `${axisOrigin.label}:${axisOrigin.line}:${axisOrigin.column}` : "";
      throw new SpecError(
        set.keyOrigins[0] ?? null,
        `--set: ${dotted} is varied by the matrix (${at})`,
      );
    }
    tree = setPath(tree, set.path, set);
  }
  tree = withoutKey(tree, "matrix");
  const cliVariables = Object.entries(options.vars ?? {}).map(([name, value]) =>
    parseAssignment(`${name}=${value}`, "--var")
  );
  const env = options.env;
  const lookupEnv = (name: string) => env === undefined ? Deno.env.get(name) : env[name];

  const ordersTree = loadYamlFile(ORDERS_FILE, context);
  const orders = readOrders(ordersTree);
  const schemaContext = {
    cwd,
    orders,
    defaultName: basename(specFile).replace(/\.ya?ml$/, ""),
    specFile,
  };

  const runs: Pipeline[] = cartesian(axes).map((point) => {
    let runTree = tree;
    point.forEach((value, index) => {
      const axis = axes[index];
      if (axis !== undefined) {
        runTree = setPath(runTree, axis.path, { value, keyOrigins: axis.keyOrigins });
      }
    });
    const variables = { values: variablesOf(runTree, cliVariables), env: lookupEnv };
    const resolved = interpolate(withoutKey(runTree, "vars"), variables) as MapNode;
    const pipeline = toPipeline(resolved, schemaContext);
    const matrixPoint: Record<string, unknown> = {};
    for (const axis of axes) {
      const value = getPath(resolved, axis.path);
      matrixPoint[joinPath(axis.path)] = value === undefined ? null : toPlain(value);
    }
    const pointName = matrixPointName(matrixPoint);
    return {
      ...pipeline,
      runName: pointName === "" ? pipeline.name : `${pipeline.name}/${pointName}`,
      matrixPoint,
    };
  });
  return { runs, sources: [...new Set(sources)] };
}

/** JSON-safe values, as `toCanonical` returns them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function canonical(value: unknown): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, item]) => [key, canonical(item)]));
  }
  return value as Json;
}

/**
 * The plain-JSON form of a pipeline, keys sorted at every level: what a run saves as its
 * resolved spec, and what equal pipelines agree on byte for byte once stringified.
 */
export function toCanonical(pipeline: Pipeline): Json {
  return canonical(pipeline);
}
