/**
 * The stage contract, for every stage kind: a job is plain data, and `run(ctx, params)` reads only
 * what its key covers. Each kind's job from a real pipeline (the tiny one over a weights folder, a
 * data root and a reference file, and the synthetic data job) is executed again from its cache
 * record alone, in another process (tests/fixtures/run_records.ts), with a guard that fails on
 * any read of a param the job does not have, and must give the artifact the pipeline run gave,
 * byte for byte; every param that holds something must have been read.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { readRecord } from "../src/cache/record.ts";
import { CacheStore } from "../src/cache/store.ts";
import { useBackend } from "../src/clip/backend.ts";
import { buildRunGraph } from "../src/plan/build.ts";
import { jobStatuses } from "../src/runner/status.ts";
import { runJobs } from "../src/runner/run.ts";
import { compileAndPlan } from "../src/runner/pipeline.ts";
import { compileSpec } from "../src/spec/mod.ts";
import { STAGE_RUNNERS, STAGES } from "../src/stages/mod.ts";
import { REPO, TINY } from "./cli_sandbox.ts";
import { writeFolderSetup } from "./folder_fixture.ts";
import { strict } from "./fixtures/run_records.ts";

const RUN_RECORDS = fileURLToPath(new URL("./fixtures/run_records.ts", import.meta.url));

Deno.test("every stage kind: jobs are plain data and run() reads only what the key covers", async () => {
  await useBackend("wasm");
  const root = await Deno.makeTempDir({ prefix: "rankone-contract-" });
  try {
    const setup = await writeFolderSetup(root);
    const store = await CacheStore.open(`${root}/cache`);
    const flags = { file: setup.pipeline, set: [], vars: {}, force: [], verify: false };
    const { plan } = await compileAndPlan(flags, { store });
    // The synthetic benchmark's data job, the only kind the folder pipeline has not.
    const synthetic = await buildRunGraph(compileSpec(TINY, { cwd: REPO }).runs[0]!);
    const dataJob = synthetic.jobs.find((job) => job.kind === "data")!;
    const dataPlan = await jobStatuses([dataJob], { store, stages: STAGE_RUNNERS });
    const tensorsBefore = tf.memory().numTensors;
    const results = [
      ...(await runJobs(plan)).results,
      ...(await runJobs(dataPlan)).results,
    ];
    // The run freed what its jobs kept (model states, encoders): nobody else has to.
    assert.equal(tf.memory().numTensors, tensorsBefore);

    const kinds = Object.keys(STAGES).sort();
    // One job per kind, inputs before their users (the record run needs upstream artifacts).
    const order = [...dataPlan.jobs, ...plan.jobs].map((p) => p.job.id);
    const chosen = kinds.map((kind) => {
      const result = results.find((r) => r.kind === kind);
      assert.ok(result, `the pipelines have no ${kind} job`);
      return result;
    }).sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
    for (const result of chosen) {
      const job = [...plan.jobs, ...dataPlan.jobs].find((p) => p.job.id === result.id)!.job;
      // Plain data: a clone (which refuses functions) equals it, and JSON holds all of it.
      assert.deepEqual(structuredClone(job), job, result.kind);
      assert.deepEqual(JSON.parse(JSON.stringify(job)), job, result.kind);
      await Deno.remove(store.artifactRoot(result.key), { recursive: true });
    }
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", RUN_RECORDS, store.root, ...chosen.map((result) => result.key)],
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assert.equal(child.code, 0, stderr);
    const lines = new TextDecoder().decode(child.stdout).trim().split("\n").map((line) =>
      JSON.parse(line) as { key: string; status: string; digest: string; reads: string[] }
    );
    for (const [i, result] of chosen.entries()) {
      const again = lines[i]!;
      assert.equal(again.status, "ran", result.kind);
      assert.equal(again.digest, result.digest, `${result.kind}: the same bytes from its record`);
      // Every top-level param that holds something was read: params hold what run() needs.
      const record = await readRecord(store, result.key);
      const given = Object.entries(record.params as Record<string, unknown>);
      const top = given.filter(([, value]) => value !== null).map(([name]) => `params.${name}`);
      const unread = top.filter((path) => !again.reads.some((read) => read.startsWith(path)));
      assert.deepEqual(unread, [], `${result.kind} params never read`);
    }
    assert.deepEqual(chosen.map((result) => result.kind).sort(), kinds);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a read of a param the job does not have fails the job (what let shots drift from the report)", () => {
  const reads: string[] = [];
  const params = strict({ runName: "tiny", tasks: ["DTD"] }, "params", reads);
  assert.equal(params.tasks[0], "DTD");
  assert.throws(
    () => (params as Record<string, unknown>).shots,
    /run\(\) read params.shots, which the job's key does not cover/,
  );
  assert.deepEqual(reads, ["params.tasks", "params.tasks.0"]);
});
