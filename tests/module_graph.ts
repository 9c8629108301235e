/**
 * What a Deno process loads for some entry modules before any of their dynamic imports runs: the
 * graph `deno info --json` prints, followed along the imports that run code (`import type` and
 * `import()` left out), with the npm packages those reach and the packages they depend on.
 * tests/module_graph_test.ts holds the layers to what they may load; bench/runner.ts counts what
 * `deno task plan` loads.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  kind: string;
  dependencies?: InfoDependency[];
  /** For an npm module: its package's id in `npmPackages`. */
  npmPackage?: string;
}

interface Info {
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

/**
 * The npm packages only running a job may load: the tensor libraries (TensorFlow.js, ONNX
 * Runtime), the image decoder (sharp), the plotting library (vega).
 */
export function isRunOnlyPackage(name: string): boolean {
  return name.startsWith("@tensorflow/") || name === "sharp" || name.startsWith("vega") ||
    name.startsWith("onnxruntime");
}

export interface LoadedGraph {
  /** Local modules reached (file: URLs), the entries included. */
  files: string[];
  /** npm packages reached, by name (`@tensorflow/tfjs`, `yaml`), their dependencies included. */
  packages: string[];
  /** The imports from an entry to a file URL or a package name: `[entry, ..., to]`. */
  chain(to: string): string[];
}

/** The graph of `entries` (paths inside `repo`), resolved with `repo`'s deno.json. */
export async function loadedGraph(
  entries: readonly string[],
  options: { repo: string },
): Promise<LoadedGraph> {
  const dir = await Deno.makeTempDir({ prefix: "rankone-module-graph-" });
  try {
    // One root importing every entry: one `deno info` for all of them.
    const root = join(dir, "entries.ts");
    const lines = entries.map((entry) => `import ${JSON.stringify(pathToFileURL(entry).href)};`);
    await Deno.writeTextFile(root, lines.join("\n") + "\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(options.repo, "deno.json"), root],
      cwd: options.repo,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed:\n${new TextDecoder().decode(output.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
    return walk(info, pathToFileURL(root).href);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function walk(info: Info, root: string): LoadedGraph {
  const modules = new Map(info.modules.map((module) => [module.specifier, module]));
  // What reached each module (a specifier) or package (`npm-package:<id>`) first: chains are
  // read back through it.
  const parent = new Map<string, string | null>([[root, null]]);
  const queue = [root];
  const reach = (to: string, from: string) => {
    if (parent.has(to)) return;
    parent.set(to, from);
    queue.push(to);
  };
  while (queue.length > 0) {
    const at = queue.shift()!;
    const id = packageId(at);
    if (id !== null) {
      for (const dependency of info.npmPackages[id]?.dependencies ?? []) {
        reach(`${PACKAGE}${dependency}`, at);
      }
      continue;
    }
    const module = modules.get(at);
    if (module?.npmPackage !== undefined) reach(`${PACKAGE}${module.npmPackage}`, at);
    for (const dependency of module?.dependencies ?? []) {
      if (dependency.code === undefined || dependency.isDynamic) continue;
      const specifier = dependency.code.specifier;
      reach(info.redirects[specifier] ?? specifier, at);
    }
  }
  // A package's name (`@tensorflow/tfjs`), or a module's specifier.
  const nameOf = (node: string) => {
    const id = packageId(node);
    return id === null ? node : info.npmPackages[id]?.name ?? id;
  };
  const reached = [...parent.keys()];
  return {
    files: reached.filter((node) => node.startsWith("file:") && node !== root),
    packages: [...new Set(reached.filter((node) => packageId(node) !== null).map(nameOf))],
    chain(to) {
      const chain: string[] = [];
      let at = reached.find((node) => nameOf(node) === to) ?? null;
      for (; at !== null && at !== root; at = parent.get(at) ?? null) {
        // An npm module says what its package says: the package's name is enough.
        if (!at.startsWith("npm:")) chain.unshift(nameOf(at));
      }
      return chain;
    },
  };
}

const PACKAGE = "npm-package:";

function packageId(node: string): string | null {
  return node.startsWith(PACKAGE) ? node.slice(PACKAGE.length) : null;
}
