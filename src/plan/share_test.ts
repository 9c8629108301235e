import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { compileSpec } from "../spec/mod.ts";
import { matrixPointName } from "../spec/point.ts";
import { buildRunGraph, type RunGraph, runSlug } from "./build.ts";
import { shareJobs } from "./share.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const TINY = `${REPO}tests/fixtures/pipelines/tiny.yaml`;

/** The tiny pipeline swept over two learning rates, each run's graph prefixed by its point. */
async function sweepGraphs(): Promise<RunGraph[]> {
  const dir = await Deno.makeTempDir({ prefix: "rankone-share-" });
  try {
    const spec = `${dir}/sweep.yaml`;
    await Deno.writeTextFile(
      spec,
      `name: sweep\nextends: [${TINY}]\nmatrix:\n  train.lr: [0.01, 0.02]\n`,
    );
    const { runs } = compileSpec(spec, { cwd: REPO });
    return await Promise.all(
      runs.map((run) => buildRunGraph(run, { prefix: matrixPointName(run.matrixPoint) })),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a run's matrix point is spelled once: its run name, job id prefix and results folder agree", async () => {
  const graphs = await sweepGraphs();
  assert.deepEqual(graphs.map((graph) => matrixPointName(graph.pipeline.matrixPoint)), [
    "train.lr=0.01",
    "train.lr=0.02",
  ]);
  assert.deepEqual(graphs.map((graph) => graph.pipeline.runName), [
    "sweep/train.lr=0.01",
    "sweep/train.lr=0.02",
  ]);
  assert.deepEqual(graphs.map(runSlug), ["train.lr=0.01", "train.lr=0.02"]);
  assert.ok(graphs[0]!.jobs.every((job) => job.id.startsWith("train.lr=0.01/")));
  assert.equal(matrixPointName({}), "");
  assert.equal(
    matrixPointName({ "method.name": "lora", "x.y": [1, 2] }),
    "method.name=lora,x.y=[1,2]",
  );
});

Deno.test("shareJobs() merges what two runs compute alike, and leaves the graphs it is given untouched", async () => {
  const graphs = await sweepGraphs();
  const before = structuredClone(graphs);
  const { jobs, graphs: shared } = shareJobs(graphs);
  assert.deepEqual(graphs, before);

  const ids = new Set(jobs.map((job) => job.id));
  // Model, data and preparation do not depend on the learning rate: one job each, plain ids.
  for (const id of ["model", "data", "prepare/DTD", "fewshot/task-01-DTD"]) {
    assert.ok(ids.has(id), id);
  }
  // Training does: one job per run, under the run's prefix.
  assert.ok(ids.has("train.lr=0.01/train/task-01-DTD"));
  assert.ok(ids.has("train.lr=0.02/train/task-01-DTD"));
  const own = (point: string) => jobs.filter((job) => job.id.startsWith(`${point}/`)).length;
  const common = jobs.length - own("train.lr=0.01") - own("train.lr=0.02");
  assert.equal(own("train.lr=0.01"), own("train.lr=0.02"));
  assert.equal(common + own("train.lr=0.01"), graphs[0]!.jobs.length);
  // Each shared graph names jobs of the merged list, its report among them.
  for (const graph of shared) {
    assert.equal(graph.jobs.length, before[0]!.jobs.length);
    for (const job of graph.jobs) assert.ok(ids.has(job.id), job.id);
    assert.ok(ids.has(graph.reportId));
  }
  assert.deepEqual(shared.map((graph) => graph.reportId), [
    "train.lr=0.01/report",
    "train.lr=0.02/report",
  ]);
});
