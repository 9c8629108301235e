/**
 * The efficiency table and the inference engines end to end, through the CLI: the quickstart's
 * results (reduced as tests/quickstart_reduced.ts does) carry the table made from its own jobs'
 * figures; those figures stay out of every key (another engine, other timings: still cached, and
 * the cached run shows the original figures); ONNX Runtime and TF.js give the quickstart the same
 * accuracies; a sweep's summary has the efficiency columns per run.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CacheStore } from "../src/cache/store.ts";
import { parseTrainRunStats } from "../src/method/train_stats.ts";
import { type RunEfficiency, runEfficiencyFromJson } from "../src/mtil/efficiency.ts";
import { runSlug } from "../src/plan/build.ts";
import { compileSpec } from "../src/spec/mod.ts";
import { cli, exists, ranCount, type Sandbox, TINY, withSandbox } from "./cli_sandbox.ts";
import {
  QUICKSTART,
  QUICKSTART_REDUCED_ARGS,
  QUICKSTART_REDUCTIONS,
} from "./quickstart_reduced.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

interface TimedJob {
  id: string;
  kind: string;
  status: "ran" | "cached";
  key: string;
}

interface RunOutcome {
  folder: string;
  jobs: TimedJob[];
  efficiency: RunEfficiency;
  efficiencyText: string;
  /** The TF.js backend the run reported. */
  backend: string;
  stdout: string;
}

/** `deno task run FILE ...args` in the sandbox, and what its one run's results folder holds. */
async function run(box: Sandbox, file: string, args: string[]): Promise<RunOutcome> {
  const out = await cli(box, ["run", file, ...args]);
  assert.equal(out.code, 0, out.stderr);
  const pipeline = compileSpec(file, { cwd: REPO }).runs[0]!;
  const folder = `${box.results}/${pipeline.name}/default`;
  const timings = JSON.parse(await Deno.readTextFile(`${folder}/timings.json`));
  const efficiencyText = await Deno.readTextFile(`${folder}/efficiency.json`);
  const efficiency = runEfficiencyFromJson(efficiencyText);
  assert.ok(efficiency, efficiencyText);
  return {
    folder,
    jobs: timings.jobs,
    efficiency,
    efficiencyText,
    backend: /\(backend (\S+)\)/.exec(out.stdout)![1]!,
    stdout: out.stdout,
  };
}

/** Each evaluate job's `accuracy.json`, by job id. */
async function accuracies(store: CacheStore, jobs: TimedJob[]): Promise<Record<string, unknown>> {
  const found: Record<string, unknown> = {};
  for (const job of jobs.filter((j) => j.kind === "evaluate")) {
    const lookup = await store.lookup(job.key, { touch: false });
    assert.ok(lookup.found, job.id);
    found[job.id] = JSON.parse(await Deno.readTextFile(`${lookup.artifact.dir}/accuracy.json`));
  }
  return found;
}

Deno.test("the quickstart: its efficiency table comes from its own jobs' figures, which stay out of the keys; ONNX Runtime and TF.js give equal accuracies", async () => {
  await withSandbox(async (box) => {
    const onnx = await run(box, QUICKSTART, [...QUICKSTART_REDUCED_ARGS, "--engine", "onnx"]);
    assert.match(onnx.stdout, /^inference: ONNX Runtime on cpu/m);
    const pipeline = compileSpec(QUICKSTART, { cwd: REPO, set: QUICKSTART_REDUCTIONS }).runs[0]!;
    for (const format of [...pipeline.report.formats, "json"]) {
      const file = { md: "efficiency.md", csv: "efficiency.csv", latex: "efficiency.tex" }[
        format as "md"
      ] ?? "efficiency.json";
      assert.ok(await exists(`${onnx.folder}/${file}`), file);
    }
    assert.match(await Deno.readTextFile(`${onnx.folder}/efficiency.md`), /^### Efficiency/);

    // The training figures are those its train jobs recorded (run.json beside each artifact):
    // steps/s pooled over every task's steps after the first.
    const store = await CacheStore.open(box.cache);
    const trains = onnx.jobs.filter((job) => job.kind === "train");
    const recorded = await Promise.all(
      trains.map(async (job) => parseTrainRunStats(await store.readRunStats(job.key))!),
    );
    assert.equal(recorded.length, pipeline.benchmark.tasks.length);
    const steps = recorded.reduce((sum, stats) => sum + stats.steps - 1, 0);
    const seconds = recorded.reduce(
      (sum, stats) => sum + stats.seconds - stats.firstStepSeconds,
      0,
    );
    const train = onnx.efficiency.train!;
    assert.equal(train.measured, train.tasks);
    assert.equal(train.stepsPerSecond, steps / seconds);
    assert.equal(train.peakTensorBytes, Math.max(...recorded.map((s) => s.peakTensorBytes)));
    // Every evaluation was measured, on the engine this run asked for.
    const inference = onnx.efficiency.inference;
    assert.equal(inference.model!.measured, inference.model!.jobs);
    assert.deepEqual(inference.model!.engines, ["onnx cpu"]);
    assert.deepEqual(inference.clip!.engines, ["onnx cpu"]);
    assert.ok(inference.model!.imagesPerSecond > 0);

    // Another engine, and timings that differ by nature: nothing reruns, and the cached run
    // reports the figures of the run that made its jobs.
    const cached = await run(box, QUICKSTART, [...QUICKSTART_REDUCED_ARGS, "--engine", "tfjs"]);
    assert.equal(ranCount(cached.stdout), 0);
    assert.doesNotMatch(cached.stdout, /^inference:/m); // nothing infers: no engine is loaded
    assert.equal(cached.efficiencyText, onnx.efficiencyText);

    // The heads and evaluations again on TF.js: the same keys (the engine is in none), the same
    // accuracies, so the report downstream stays cached.
    const tfjs = await run(box, QUICKSTART, [
      ...QUICKSTART_REDUCED_ARGS,
      "--engine",
      "tfjs",
      "--force",
      "head",
      "--force",
      "evaluate",
    ]);
    assert.match(tfjs.stdout, /^inference: TF\.js on /m);
    const status = new Map(tfjs.jobs.map((job) => [job.id, job]));
    for (const job of onnx.jobs.filter((j) => j.kind === "evaluate" || j.kind === "head")) {
      assert.equal(status.get(job.id)?.status, "ran", job.id);
    }
    assert.equal(tfjs.jobs.find((job) => job.kind === "report")?.status, "cached");
    assert.deepEqual(await accuracies(store, tfjs.jobs), await accuracies(store, onnx.jobs));
    assert.equal(
      await Deno.readTextFile(`${tfjs.folder}/accuracy_matrix.csv`),
      await Deno.readTextFile(`${onnx.folder}/accuracy_matrix.csv`),
    );
    // The evaluations' figures are the new runs' (TF.js); training's are still the first run's.
    assert.deepEqual(tfjs.efficiency.inference.model!.engines, [`tfjs ${tfjs.backend}`]);
    assert.deepEqual(tfjs.efficiency.train, onnx.efficiency.train);
  }, "rankone-efficiency-e2e-");
});

Deno.test("a sweep's summary has the efficiency columns of every run; a run writes the table in its report's formats and JSON", async () => {
  await withSandbox(async (box) => {
    const spec = `${box.root}/sweep.yaml`;
    await Deno.writeTextFile(
      spec,
      [
        "name: sweep",
        `extends: [${TINY}]`,
        "train: { steps: 3, iterations: 3 }",
        "matrix:",
        "  method.name: [expert-pool, lora]",
        "",
      ].join("\n"),
    );
    const out = await cli(box, ["run", spec]);
    assert.equal(out.code, 0, out.stderr);
    const runs = compileSpec(spec, { cwd: REPO }).runs;
    const summary = await Deno.readTextFile(`${box.results}/sweep/summary.md`);
    const [accuracy = "", efficiencyPart = ""] = summary.split("### Efficiency");
    assert.notEqual(efficiencyPart, "", summary);
    for (const run of runs) {
      const slug = runSlug({ pipeline: run, jobs: [], reportId: "" });
      const folder = `${box.results}/sweep/${slug}`;
      const efficiency = runEfficiencyFromJson(
        await Deno.readTextFile(`${folder}/efficiency.json`),
      )!;
      // tiny.yaml's report formats are [md]: the Markdown and the JSON, no CSV or LaTeX.
      assert.ok(await exists(`${folder}/efficiency.md`));
      assert.equal(await exists(`${folder}/efficiency.csv`), false);
      assert.equal(await exists(`${folder}/efficiency.tex`), false);
      assert.ok(accuracy.includes(`| ${slug} | `), accuracy);
      const row: string | undefined = efficiencyPart.split("\n")
        .find((line) => line.startsWith(`| ${slug} | `));
      assert.ok(row !== undefined, `no efficiency row for ${slug} in:\n${summary}`);
      const trainable = efficiency.parameters.trainable.toLocaleString("en-US");
      assert.ok(row.includes(`| ${trainable} (`), row);
      assert.ok(efficiency.train!.stepsPerSecond! > 0);
    }
  }, "rankone-efficiency-sweep-");
});
