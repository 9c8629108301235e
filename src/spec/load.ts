/**
 * Reads a spec file and the fragments it `extends`, merged into one tree: the fragments in the
 * order listed (later wins), the file itself last. Paths in `extends` are relative to the file
 * that names them.
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { type Origin, SourceText, SpecError } from "./error.ts";
import {
  describe,
  emptyMap,
  isUnset,
  type MapNode,
  mergeNodes,
  parseYaml,
  withoutKey,
} from "./node.ts";

/** What error messages call a file: relative to `cwd` when it lies below it, else absolute. */
export function displayPath(path: string, cwd: string): string {
  const fromCwd = relative(cwd, path);
  return fromCwd === "" || fromCwd.startsWith("..") || isAbsolute(fromCwd) ? path : fromCwd;
}

export interface LoadContext {
  cwd: string;
  /** Every file read so far (absolute), appended to as files are read. */
  sources: string[];
}

/**
 * Parses one YAML file into a tree whose root is a map (an empty file is an empty map).
 * `from` is where the file was named (an `extends` entry), for the error when it cannot be read.
 */
export function loadYamlFile(
  path: string,
  context: LoadContext,
  from: { origin: Origin; written: string } | null = null,
): MapNode {
  const label = displayPath(path, context.cwd);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : (error as Error).message;
    if (from === null) throw new SpecError(null, `Cannot load ${label}: ${reason}`);
    throw new SpecError(
      from.origin,
      `extends: cannot load "${from.written}" (${label}): ${reason}`,
    );
  }
  context.sources.push(path);
  const source = new SourceText(label, path, text);
  const root = parseYaml(source);
  if (root === null) return emptyMap(source.origin(0));
  if (root.kind !== "map") {
    throw new SpecError(root.origin, `a spec file must be a map of sections, got a list or value`);
  }
  return root;
}

/**
 * Loads `path` with everything it extends, merged; the result has no `extends` key.
 * `chain` is the list of files being loaded above this one, to report cycles.
 */
export function loadSpecTree(
  path: string,
  context: LoadContext,
  options: { chain?: string[]; from?: { origin: Origin; written: string } } = {},
): MapNode {
  const chain = [...(options.chain ?? []), path];
  const own = loadYamlFile(path, context, options.from ?? null);
  const extendsNode = own.entries.get("extends")?.value;
  if (isUnset(extendsNode)) return withoutKey(own, "extends");
  const items = extendsNode.kind === "seq" ? extendsNode.items : [extendsNode];
  let merged: MapNode = emptyMap(own.origin);
  items.forEach((item, index) => {
    const where = extendsNode.kind === "seq" ? `extends[${index}]` : "extends";
    if (item.kind !== "scalar" || typeof item.value !== "string" || item.value === "") {
      throw new SpecError(item.origin, `${where}: expected a file path, got ${describe(item)}`);
    }
    const target = resolve(dirname(path), item.value);
    if (chain.includes(target)) {
      const cycle = [...chain.slice(chain.indexOf(target)), target]
        .map((file) => displayPath(file, context.cwd))
        .join(" -> ");
      throw new SpecError(item.origin, `${where}: cycle: ${cycle}`);
    }
    const fragment = loadSpecTree(target, context, {
      chain,
      from: { origin: item.origin, written: item.value },
    });
    merged = mergeNodes(merged, fragment) as MapNode;
  });
  return mergeNodes(merged, withoutKey(own, "extends")) as MapNode;
}
