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
function fakeDigests(inputs: Record<string, string>): Record<string, string> {
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

const PINNED: Record<string, string> = {
  "model": "aa1c9e1f9f8df84da95bc9c8234acd2008aa6e5bad610e2df268c425cdd2864b",
  "data": "cea42ed1b8ae8d4d682a799b543e37e28e251aa42262cb6c6f2ecbd69225da11",
  "prepare/DTD": "38997a9b0f7116c2a2c522277fc887816550554ea393f6935e6545f78bd03550",
  "fewshot/task-01-DTD": "e2ad70b7c0aa569f3d9bd90a4a7bcfe616d171461a976bb7e515025e657c5bae",
  "train/task-02-EuroSAT": "7e597f9a3b53ca754bea79bdf3fb0154052f8681c19116303b2715b133d827c1",
  "evaluate/after-02-EuroSAT/DTD":
    "16b352163f92fb3fef8bbb8ce9e78e5e8de1260f12d6391db7a548b587ee1a29",
  "report": "8242467531d81c3b72dfca84892df7213f67b5d50cc5723f4decd28c0dec69a0",
};
