/**
 * Pinned job keys of a fixed spec: a change to how a stage names its params, to the canonical
 * JSON, the key schema or a stage version changes these strings, and must be deliberate (update
 * them in the same commit and say why: every user's cache misses after it).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { jobKey } from "../src/cache/key.ts";
import { buildRunGraph } from "../src/plan/build.ts";
import { compileSpec } from "../src/spec/mod.ts";

const TINY = fileURLToPath(new URL("./fixtures/pipelines/tiny.yaml", import.meta.url));

/** Stand-in input digests: key = f(params, the inputs' digests), so fixed digests pin the rest. */
function fakeDigests(inputs: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(inputs).map((name, i) => [name, String(i).repeat(64).slice(0, 64)]),
  );
}

Deno.test("the tiny pipeline's job keys are fixed strings", async () => {
  const { runs } = compileSpec(TINY, { cwd: fileURLToPath(new URL("..", import.meta.url)) });
  const graph = await buildRunGraph(runs[0]!);
  const keys = Object.fromEntries(
    graph.jobs.map((job) => [
      job.id,
      jobKey({
        kind: job.kind,
        version: job.version,
        params: job.params,
        inputs: fakeDigests(job.inputs),
        sources: fakeDigests(job.sources),
      }),
    ]),
  );
  assert.equal(graph.jobs.length, 24);
  const pinned: Record<string, string> = {
    "model": keys["model"]!,
    "data": keys["data"]!,
    "prepare/DTD": keys["prepare/DTD"]!,
    "fewshot/task-01-DTD": keys["fewshot/task-01-DTD"]!,
    "train/task-02-EuroSAT": keys["train/task-02-EuroSAT"]!,
    "evaluate/after-02-EuroSAT/DTD": keys["evaluate/after-02-EuroSAT/DTD"]!,
    "report": keys["report"]!,
  };
  assert.deepEqual(pinned, PINNED);
});

// Key schema 2 (source digests in the key), model version 2, report version 2, data params as
// `{ root: null }` for the synthetic data artifact, few-shot train jobs with `data: null`, the
// data job's params naming its image kind (`images: "stripes"`; only the data job's key moved:
// the same images have the same digest, so what reads them stays cached).
const PINNED: Record<string, string> = {
  "model": "ce13771f5cedfa03ce6f90e1242d488354c6d77841123ba52076fb69847c33d2",
  "data": "aafe1c6702bc08154fc87ac33e419b2e0b8ad3f1ea4357c4eb52794213921131",
  "prepare/DTD": "61e1d8094e5366a7b4e10812a1a184e48e36193b141aceb2e8ab8a9daaaa32cc",
  "fewshot/task-01-DTD": "596fe22726bbbcc6e9a88a76ec68a4d8c4a0bc0080d93557a7c66850253c155b",
  "train/task-02-EuroSAT": "312ae35942f0993c7b2297f42e38e70027a87ac853ce43ba1be2835a383e9573",
  "evaluate/after-02-EuroSAT/DTD":
    "04655fc9e2eef89ec53653541eee5eb070d0ad5bd7df09a42f74d846fda7a3a7",
  "report": "e85ddcc2f4739882cb9c4591033549d8f1b3a72b1e9487fad4964a572ca747ac",
};

Deno.test("executor resources stay out of every job: the same jobs, params and keys with or without them", async () => {
  const cwd = fileURLToPath(new URL("..", import.meta.url));
  const plain = await buildRunGraph(compileSpec(TINY, { cwd }).runs[0]!);
  const set = [
    "executor.slurm.default={ cpus: 4, mem: 16G, time: '3:00:00', options: [--qos=high] }",
    "executor.slurm.train={ gpus: 2, partition: gpu }",
  ];
  const placed = compileSpec(TINY, { cwd, set }).runs[0]!;
  assert.equal(placed.executor.slurm.train.gpus, 2);
  const graph = await buildRunGraph(placed);
  assert.deepEqual(graph.jobs, plain.jobs);
});
