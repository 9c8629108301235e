/**
 * Layers load only what they use: compiling a spec and planning a pipeline never load a tensor
 * library (TensorFlow.js, ONNX Runtime), the image decoder (sharp) or the plotting library (vega):
 * stage implementations (src/stages/run/) are imported when a job runs, never by the planner.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO } from "./cli_sandbox.ts";
import { isRunOnlyPackage, loadedGraph } from "./module_graph.ts";

/** The modules (not tests) directly in `folder` of src/. */
function modulesIn(folder: string): string[] {
  return [...Deno.readDirSync(join(REPO, "src", folder))]
    .filter((entry) =>
      entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")
    )
    .map((entry) => join(REPO, "src", folder, entry.name))
    .sort();
}

const relative = (specifier: string) => specifier.replace(pathToFileURL(REPO).href, "");

Deno.test("src/spec, src/plan, the stage declarations and `deno task plan` (cli/main.ts, cli/plan.ts) reach none of @tensorflow/*, onnxruntime, sharp, vega", async () => {
  const entries = [
    ...modulesIn("spec"),
    ...modulesIn("plan"),
    ...modulesIn("stages"),
    join(REPO, "src/cli/main.ts"),
    join(REPO, "src/cli/plan.ts"),
  ];
  const graph = await loadedGraph(entries, { repo: REPO });
  // Where planning enters such a library (not the libraries it brings along).
  const entered = graph.packages.filter((name) =>
    isRunOnlyPackage(name) && !isRunOnlyPackage(graph.chain(name).at(-2) ?? "")
  );
  assert.deepEqual(
    entered.map((name) => graph.chain(name).map(relative).join(" -> ")),
    [],
    "an import chain from planning to a library only running a job may load",
  );
  // The walk went through: every entry, the stage declarations the registry names, and yaml.
  const files = new Set(graph.files.map(relative));
  for (const entry of entries) assert.ok(files.has(relative(pathToFileURL(entry).href)), entry);
  assert.ok(files.has("src/runner/pipeline.ts"));
  assert.ok(graph.packages.includes("yaml"));
  assert.ok(![...files].some((file) => file.startsWith("src/stages/run/")), [...files].join("\n"));
});

Deno.test("the walk sees a library where one is imported: the train, prepare and report runs reach @tensorflow/tfjs, sharp and vega", async () => {
  const graph = await loadedGraph(
    ["train", "prepare", "report"].map((kind) => join(REPO, `src/stages/run/${kind}.ts`)),
    { repo: REPO },
  );
  for (const name of ["@tensorflow/tfjs", "sharp", "vega"]) {
    assert.ok(graph.packages.includes(name), name);
    assert.match(graph.chain(name)[0]!, /src\/stages\/run\/(train|prepare|report)\.ts$/);
    assert.equal(graph.chain(name).at(-1), name);
  }
});
