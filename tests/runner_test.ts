import assert from "node:assert/strict";
import { join } from "node:path";
import { collectGarbage } from "../src/cache/gc.ts";
import { CacheStore } from "../src/cache/store.ts";
import { readNpy } from "../src/io/npy.ts";
import { jobStatuses } from "../src/runner/status.ts";
import { RunInterrupted, runJobs, silentDisplay } from "../src/runner/run.ts";
import { runRecordedJob } from "../src/runner/record.ts";
import type { Plan, RunSummary } from "../src/runner/types.ts";
import { UserError } from "../src/errors.ts";
import {
  countJob,
  pipeline,
  type PipelineOptions,
  type StageHooks,
  testStages,
} from "./runner_stages.ts";

async function withCache(body: (store: CacheStore) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "rankone-cache-test-" });
  try {
    await body(await CacheStore.open(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Plans and runs the test pipeline; returns the plan, the summary and the ids that executed. */
async function planAndRun(
  store: CacheStore,
  options: PipelineOptions & StageHooks & { force?: string[]; until?: string; verify?: "full" } =
    {},
): Promise<{ plan: Plan; summary: RunSummary; executed: string[] }> {
  const executed: string[] = [];
  const stages = testStages({ ...options, onRun: (id) => executed.push(id) });
  const plan = await jobStatuses(pipeline(options), {
    store,
    stages,
    force: options.force,
    verify: options.verify,
  });
  const summary = await runJobs(plan, { until: options.until });
  return { plan, summary, executed };
}

function statuses(plan: Plan): Record<string, string> {
  return Object.fromEntries(
    plan.jobs.map((p) => [p.job.id, p.reason ? `${p.status} ${p.reason}` : p.status]),
  );
}

function byId(summary: RunSummary, id: string) {
  const result = summary.results.find((r) => r.id === id);
  assert.ok(result, `no result for ${id}`);
  return result;
}

async function listTmp(store: CacheStore): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(store.tmpDir)) names.push(entry.name);
  return names;
}

Deno.test("a first run runs every job in input order and writes the values its stages compute", async () => {
  await withCache(async (store) => {
    const { plan, summary, executed } = await planAndRun(store, { factor: 2, step: 0.5 });
    assert.deepEqual(statuses(plan), {
      "generate/x": "run MISSING",
      "scale/y": "pending",
      "quantize/q": "pending",
      "summarize/q": "pending",
      "stats/x": "pending",
    });
    assert.deepEqual(executed, ["generate/x", "scale/y", "quantize/q", "summarize/q", "stats/x"]);
    assert.equal(summary.ran, 5);
    const x = await readNpy(join(byId(summary, "generate/x").dir, "x.npy"));
    const q = await readNpy(join(byId(summary, "quantize/q").dir, "q.npy"));
    const expected = Array.from(x.data as Float32Array, (v) => Math.round((v * 2) / 0.5) * 0.5);
    assert.deepEqual(Array.from(q.data as Float32Array), expected);
    const summaryJson = JSON.parse(
      await Deno.readTextFile(join(byId(summary, "summarize/q").dir, "summary.json")),
    );
    assert.equal(summaryJson.count, 64);
    assert.equal(summaryJson.sum, expected.reduce((a, b) => a + b, 0));
    // The log is kept beside the data, outside the content digest.
    const log = await Deno.readTextFile(join(byId(summary, "generate/x").dir, "..", "log.txt"));
    assert.equal(log, "wrote 64 values\n");
    assert.deepEqual(await listTmp(store), []);
  });
});

Deno.test("a second identical run executes nothing and returns the same digests", async () => {
  await withCache(async (store) => {
    const first = await planAndRun(store);
    const second = await planAndRun(store);
    assert.ok(second.plan.jobs.every((p) => p.status === "cached"));
    assert.deepEqual(second.executed, []);
    assert.equal(second.summary.cached, 5);
    assert.deepEqual(
      second.summary.results.map((r) => r.digest),
      first.summary.results.map((r) => r.digest),
    );
  });
});

Deno.test("changing one param reruns that job and its downstream only (reason PARAMS, then INPUT)", async () => {
  await withCache(async (store) => {
    await planAndRun(store, { step: 0.01 });
    const { plan, summary, executed } = await planAndRun(store, { factor: 3, step: 0.01 });
    assert.deepEqual(statuses(plan), {
      "generate/x": "cached",
      "scale/y": "run PARAMS",
      "quantize/q": "pending",
      "summarize/q": "pending",
      "stats/x": "cached",
    });
    assert.equal(plan.jobs[1]!.detail, "factor: 2 -> 3");
    assert.deepEqual(executed, ["scale/y", "quantize/q", "summarize/q"]);
    assert.equal(byId(summary, "quantize/q").reason, "INPUT");
    assert.equal(byId(summary, "quantize/q").detail, "input y changed");
  });
});

Deno.test("an upstream rerun that writes identical bytes leaves downstream jobs cached", async () => {
  await withCache(async (store) => {
    // factor 2.0000001 moves y by < 1e-6; quantizing at 0.5 gives the same q.npy bytes.
    await planAndRun(store, { factor: 2, step: 0.5 });
    const { summary, executed } = await planAndRun(store, { factor: 2.0000001, step: 0.5 });
    assert.deepEqual(executed, ["scale/y", "quantize/q"]);
    assert.equal(byId(summary, "summarize/q").status, "cached");
  });
});

Deno.test("bumping a stage version reruns its jobs with reason VERSION", async () => {
  await withCache(async (store) => {
    await planAndRun(store);
    const { plan, executed } = await planAndRun(store, { versions: { summarize: 2 } });
    const summarize = plan.jobs.find((p) => p.job.id === "summarize/q")!;
    assert.equal(summarize.reason, "VERSION");
    assert.equal(summarize.detail, "summarize stage version 1 -> 2");
    assert.deepEqual(executed, ["summarize/q"]);
  });
});

Deno.test("--force reruns the named job (FORCED); identical bytes keep its downstream cached", async () => {
  await withCache(async (store) => {
    await planAndRun(store);
    const { plan, summary, executed } = await planAndRun(store, { force: ["generate"] });
    assert.equal(statuses(plan)["generate/x"], "run FORCED");
    assert.equal(statuses(plan)["scale/y"], "pending");
    assert.deepEqual(executed, ["generate/x"]);
    assert.equal(byId(summary, "generate/x").reason, "FORCED");
    assert.equal(summary.cached, 4);
    const globbed = await planAndRun(store, { force: ["*/q"] });
    assert.deepEqual(globbed.executed, ["quantize/q", "summarize/q"]);
  });
});

Deno.test("an input that changed while its job stayed cached gives reason INPUT at plan time", async () => {
  await withCache(async (store) => {
    await planAndRun(store, { seed: 1 });
    await planAndRun(store, { seed: 2, until: "generate/x" });
    const { plan } = await planAndRun(store, { seed: 2, until: "generate" });
    assert.equal(statuses(plan)["scale/y"], "run INPUT");
    assert.equal(plan.jobs[1]!.detail, "input x changed");
  });
});

Deno.test("until runs only the named job (or kind) and its upstream; an unknown one is a usage error", async () => {
  await withCache(async (store) => {
    const { summary, executed } = await planAndRun(store, { until: "scale/y" });
    assert.deepEqual(executed, ["generate/x", "scale/y"]);
    assert.deepEqual(summary.results.map((r) => r.id), ["generate/x", "scale/y"]);
    await assert.rejects(planAndRun(store, { until: "nope" }), (error) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /--until nope: no job has this id or kind/);
      assert.equal(error.exitCode, 2);
      return true;
    });
  });
});

Deno.test("--force replaces the artifact with the new output, and a changed digest reruns everything downstream", async () => {
  await withCache(async (store) => {
    const first = await planAndRun(store);
    // Same params, other output (what a stage reading an unhashed file, or a backend change, does).
    const forced = await planAndRun(store, { force: ["generate"], generateOffset: 0.25 });
    assert.deepEqual(forced.executed, [
      "generate/x",
      "scale/y",
      "quantize/q",
      "summarize/q",
      "stats/x",
    ]);
    const key = byId(first.summary, "generate/x").key;
    assert.equal(byId(forced.summary, "generate/x").key, key);
    const stored = await store.lookup(key);
    assert.ok(stored.found);
    assert.equal(stored.artifact.manifest.digest, byId(forced.summary, "generate/x").digest);
    assert.notEqual(stored.artifact.manifest.digest, byId(first.summary, "generate/x").digest);
    const x = await readNpy(join(stored.artifact.dir, "x.npy"));
    assert.ok(Math.min(...(x.data as Float32Array)) >= 0.25);
    // Everything downstream was computed from the new x: a plain rerun finds it all cached.
    const again = await planAndRun(store, { generateOffset: 0.25 });
    assert.deepEqual(again.executed, []);
    const stats = JSON.parse(
      await Deno.readTextFile(join(byId(again.summary, "stats/x").dir, "nested", "stats.json")),
    );
    assert.ok(stats.min >= 0.25);
  });
});

Deno.test("run --verify recomputes what its plan found corrupt, even a rewrite that kept size and mtime", async () => {
  await withCache(async (store) => {
    const first = await planAndRun(store);
    const y = join(byId(first.summary, "scale/y").dir, "y.npy");
    const stat = await Deno.stat(y);
    const bytes = await Deno.readFile(y);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x80; // one value's sign, same size
    await Deno.chmod(y, 0o644);
    await Deno.writeFile(y, bytes);
    await Deno.utime(y, stat.atime!, stat.mtime!);
    const verified = await planAndRun(store, { verify: "full" });
    assert.equal(statuses(verified.plan)["scale/y"], "run MISSING");
    assert.match(verified.plan.jobs[1]!.detail, /artifact is corrupt: file data\/y.npy content/);
    assert.deepEqual(verified.executed, ["scale/y"]);
    assert.equal(byId(verified.summary, "scale/y").digest, byId(first.summary, "scale/y").digest);
    assert.equal(byId(verified.summary, "quantize/q").status, "cached");
    const restored = await store.lookup(byId(first.summary, "scale/y").key, { verify: "full" });
    assert.equal(restored.found, true);
  });
});

Deno.test("a rewrite that restores size and mtime is caught by the stamp's ctime once a second has passed", async () => {
  await withCache(async (store) => {
    const { summary } = await planAndRun(store, { until: "scale" });
    const result = byId(summary, "scale/y");
    const y = join(result.dir, "y.npy");
    const before = await Deno.stat(y);
    const bytes = await Deno.readFile(y);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await new Promise((done) => setTimeout(done, 1100));
    await Deno.chmod(y, 0o444 | 0o200);
    await Deno.writeFile(y, bytes);
    await Deno.chmod(y, 0o444);
    await Deno.utime(y, before.atime!, before.mtime!);
    assert.deepEqual(await store.lookup(result.key), {
      found: false,
      problem: "file data/y.npy content does not match its sha256",
    });
  });
});

Deno.test("two concurrent runs on one cache compute each job once and get the same artifacts", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-cache-test-" });
  try {
    const executed: string[] = [];
    const runOnce = async () => {
      const store = await CacheStore.open(root);
      const stages = testStages({ scaleDelayMs: 300, onRun: (id) => executed.push(id) });
      return await runJobs(await jobStatuses(pipeline(), { store, stages }));
    };
    const [a, b] = await Promise.all([runOnce(), runOnce()]);
    assert.deepEqual(executed.sort(), [
      "generate/x",
      "quantize/q",
      "scale/y",
      "stats/x",
      "summarize/q",
    ]);
    assert.equal(a.ran + b.ran, 5);
    assert.deepEqual(a.results.map((r) => r.digest), b.results.map((r) => r.digest));
    const waited = [...a.results, ...b.results].filter((r) =>
      r.detail === "computed by another process"
    );
    assert.ok(waited.length > 0, "one run waited for the other's lock");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("gc --unused-days 0 during a run removes nothing the run has used or written", async () => {
  await withCache(async (store) => {
    await planAndRun(store, { until: "generate" });
    const lease = await store.openLease("test");
    const plan = await jobStatuses(pipeline(), {
      store,
      stages: testStages({ scaleDelayMs: 400 }),
      lease,
    });
    let report: Awaited<ReturnType<typeof collectGarbage>> | null = null;
    const display = {
      ...silentDisplay,
      jobProgress(id: string, done: number) {
        if (id === "scale/y" && done === 2 && report === null) {
          collectGarbage(store, { unusedDays: 0, now: new Date(Date.now() + 86_400_000) })
            .then((r) => report = r);
        }
      },
    };
    const summary = await runJobs(plan, { display });
    await lease.close();
    assert.equal(summary.ran, 4);
    assert.ok(report !== null);
    const gcReport = report as Awaited<ReturnType<typeof collectGarbage>>;
    assert.deepEqual(gcReport.removed.map((r) => r.what), []);
    assert.deepEqual(gcReport.kept.map((r) => r.detail.split(" ")[0]), ["generate"]);
    // Once the run has ended, nothing protects its artifacts any more.
    const after = await collectGarbage(store, {
      unusedDays: 0,
      now: new Date(Date.now() + 86_400_000),
    });
    assert.equal(after.removed.length, 5);
  });
});

Deno.test("a job runs from its record alone and lands under the same key; a missing input is named", async () => {
  await withCache(async (store) => {
    const first = await planAndRun(store);
    const q = byId(first.summary, "quantize/q");
    await Deno.remove(join(q.dir, ".."), { recursive: true });
    const rerun = await runRecordedJob(store, q.key, { stages: testStages() });
    assert.deepEqual([rerun.status, rerun.key, rerun.digest], ["ran", q.key, q.digest]);
    const again = await runRecordedJob(store, q.key, { stages: testStages() });
    assert.equal(again.status, "cached");
    await Deno.remove(join(byId(first.summary, "scale/y").dir, ".."), { recursive: true });
    await Deno.remove(join(q.dir, ".."), { recursive: true });
    await assert.rejects(
      runRecordedJob(store, q.key, { stages: testStages() }),
      /input y \(scale\/y, artifact [0-9a-f]{64}\) is missing; run scale\/y first/,
    );
    await assert.rejects(
      runRecordedJob(store, q.key, { stages: testStages({ versions: { quantize: 2 } }) }),
      /recorded with quantize version 1, this code has 2/,
    );
  });
});

Deno.test("a job the plan says will run has a record already: another process can run it from the plan alone", async () => {
  await withCache(async (store) => {
    const stages = testStages();
    const plan = await jobStatuses(pipeline(), { store, stages });
    const generate = plan.jobs[0]!;
    assert.equal(generate.status, "run");
    // A worker given only the key (here: this process, through the record).
    const worker = await runRecordedJob(store, generate.key!, { stages });
    assert.equal(worker.status, "ran");
    // The run finds it computed and goes on from there.
    const summary = await runJobs(plan);
    assert.equal(byId(summary, "generate/x").status, "cached");
    assert.equal(byId(summary, "generate/x").detail, "computed by another process");
    assert.equal(summary.ran, 4);
  });
});

Deno.test("a job's source folder enters its key by content: one edited file reruns it, naming the count", async () => {
  await withCache(async (store) => {
    const folder = await Deno.makeTempDir({ prefix: "rankone-source-" });
    try {
      for (const name of ["a.jpg", "b.jpg", "c.jpg"]) {
        await Deno.writeTextFile(join(folder, name), name);
      }
      const stages = testStages();
      const run = async () => runJobs(await jobStatuses([countJob(folder)], { store, stages }));
      const first = await run();
      assert.equal(first.ran, 1);
      const warm = await jobStatuses([countJob(folder)], { store, stages });
      assert.equal(warm.jobs[0]!.status, "cached");
      await Deno.writeTextFile(join(folder, "b.jpg"), "B.JPG");
      const edited = await jobStatuses([countJob(folder)], { store, stages });
      assert.equal(statuses(edited)["count/files"], "run INPUT");
      assert.equal(edited.jobs[0]!.detail, "data changed, 1 file");
      await runJobs(edited);
      await Deno.writeTextFile(join(folder, "b.jpg"), "b.jpg");
      const restored = await jobStatuses([countJob(folder)], { store, stages });
      assert.equal(restored.jobs[0]!.status, "cached", "the first artifact is reused");
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  });
});

Deno.test("a job whose source changes while it reads it fails and leaves no artifact", async () => {
  await withCache(async (store) => {
    const folder = await Deno.makeTempDir({ prefix: "rankone-source-" });
    try {
      await Deno.writeTextFile(join(folder, "a.jpg"), "a");
      const stages = testStages({
        duringCount: () => Deno.writeTextFile(join(folder, "late.jpg"), "late"),
      });
      const plan = await jobStatuses([countJob(folder)], { store, stages });
      await assert.rejects(runJobs(plan), /count\/files: .* changed while the job read it/);
      assert.deepEqual(await listTmp(store), []);
      assert.equal((await store.lookup(plan.jobs[0]!.key!)).found, false);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  });
});

Deno.test("a full disk fails the job in one line naming it and where it wrote; nothing is left behind", async () => {
  await withCache(async (store) => {
    const stages = testStages({
      replace: { scale: () => Deno.writeFile("/dev/full", new Uint8Array(64)) },
    });
    const plan = await jobStatuses(pipeline(), { store, stages });
    await assert.rejects(runJobs(plan), (error) => {
      assert.ok(error instanceof UserError, String(error));
      assert.match(
        error.message,
        /^scale\/y: No space left on device \(os error 28\).*\(writing its output in .*\/tmp\/[0-9a-f]{64}\./,
      );
      assert.ok(!error.message.includes("\n"));
      return true;
    });
    assert.deepEqual(await listTmp(store), []);
  });
});

Deno.test("a corrupted artifact file is a miss (reported as corrupt) and the job reruns", async () => {
  await withCache(async (store) => {
    const first = await planAndRun(store);
    const y = join(byId(first.summary, "scale/y").dir, "y.npy");
    const bytes = await Deno.readFile(y);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // same size, one flipped byte
    await Deno.chmod(y, 0o644);
    await Deno.writeFile(y, bytes);
    const { plan, executed, summary } = await planAndRun(store);
    assert.equal(statuses(plan)["scale/y"], "run MISSING");
    assert.match(
      plan.jobs[1]!.detail,
      /artifact is corrupt: file data\/y.npy content does not match/,
    );
    // Rerunning restores the same bytes, so nothing downstream of scale/y reruns.
    assert.deepEqual(executed, ["scale/y"]);
    assert.equal(byId(summary, "scale/y").digest, byId(first.summary, "scale/y").digest);
    assert.equal((await store.lookup(byId(summary, "scale/y").key)).found, true);
  });
});

Deno.test("bytes that change under an unchanged stamp (bit rot) pass the stamp check, not full verification", async () => {
  await withCache(async (store) => {
    const { summary } = await planAndRun(store, { until: "scale" });
    const result = byId(summary, "scale/y");
    const y = join(result.dir, "y.npy");
    const bytes = await Deno.readFile(y);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await Deno.chmod(y, 0o644);
    await Deno.writeFile(y, bytes);
    // The disk changed the bytes, not the metadata: record the file's stamp as it is now.
    const stampPath = join(result.dir, "..", "stamp.json");
    const stamp = JSON.parse(await Deno.readTextFile(stampPath));
    const now = await Deno.stat(y);
    stamp.verified["y.npy"] = [now.size, now.mtime!.getTime(), now.ctime!.getTime(), now.ino];
    await Deno.writeTextFile(stampPath, JSON.stringify(stamp));
    assert.equal((await store.lookup(result.key)).found, true);
    const full = await store.lookup(result.key, { verify: "full" });
    assert.deepEqual(full, {
      found: false,
      problem: "file data/y.npy content does not match its sha256",
    });
  });
});

Deno.test("an extra or missing file in an artifact makes it a miss", async () => {
  await withCache(async (store) => {
    const { summary } = await planAndRun(store, { until: "stats" });
    const stats = byId(summary, "stats/x");
    await Deno.writeTextFile(join(stats.dir, "extra.txt"), "x");
    assert.deepEqual(await store.lookup(stats.key), {
      found: false,
      problem: "unexpected file data/extra.txt",
    });
    await Deno.remove(join(stats.dir, "extra.txt"));
    await Deno.remove(join(stats.dir, "nested", "stats.json"));
    assert.deepEqual(await store.lookup(stats.key), {
      found: false,
      problem: "file data/nested/stats.json is missing",
    });
  });
});

Deno.test("artifact data files are read only, so a stage cannot edit its input in place", async () => {
  await withCache(async (store) => {
    const { summary } = await planAndRun(store, { until: "generate" });
    const stat = await Deno.stat(join(byId(summary, "generate/x").dir, "x.npy"));
    assert.equal(stat.mode! & 0o222, 0);
  });
});

Deno.test("aborting the signal mid-job throws RunInterrupted (exit 130) and leaves no artifact", async () => {
  await withCache(async (store) => {
    const controller = new AbortController();
    const stages = testStages({ scaleDelayMs: 200 });
    const plan = await jobStatuses(pipeline(), { store, stages });
    let progressCalls = 0;
    const display = {
      begin() {},
      jobStart() {},
      jobProgress(_id: string, done: number) {
        progressCalls++;
        if (done === 2) controller.abort();
      },
      jobLog() {},
      jobEnd() {},
      end() {},
    };
    await assert.rejects(runJobs(plan, { signal: controller.signal, display }), (error) => {
      assert.ok(error instanceof RunInterrupted);
      assert.equal(error.exitCode, 130);
      assert.match(error.message, /interrupted during scale\/y/);
      return true;
    });
    assert.equal(progressCalls, 2);
    assert.deepEqual(await listTmp(store), []);
    const replanned = await jobStatuses(pipeline(), { store, stages });
    assert.deepEqual(statuses(replanned)["scale/y"], "run MISSING");
    assert.deepEqual(statuses(replanned)["generate/x"], "cached");
  });
});

Deno.test("a job that throws a UserError fails the run with its id and leaves no artifact", async () => {
  await withCache(async (store) => {
    const stages = testStages({
      replace: { scale: () => Promise.reject(new UserError("Cannot read /data/x: missing")) },
    });
    const plan = await jobStatuses(pipeline(), { store, stages });
    await assert.rejects(runJobs(plan), /^UserError: scale\/y: Cannot read \/data\/x: missing$/);
    assert.deepEqual(await listTmp(store), []);
  });
});

Deno.test("jobStatuses rejects duplicate ids, unknown inputs, cycles and non-JSON params", async () => {
  await withCache(async (store) => {
    const jobs = pipeline();
    await assert.rejects(
      jobStatuses([...jobs, jobs[0]!], { store }),
      /"generate\/x" is used twice/,
    );
    const unknown = pipeline();
    unknown[1]!.inputs = { x: "nowhere" };
    await assert.rejects(jobStatuses(unknown, { store }), /input "x" names unknown job "nowhere"/);
    const cyclic = pipeline();
    cyclic[0]!.inputs = { back: "quantize/q" };
    await assert.rejects(
      jobStatuses(cyclic, { store }),
      /cycle: generate\/x -> scale\/y -> quantize\/q -> generate\/x/,
    );
    const nan = pipeline({ factor: NaN });
    await assert.rejects(jobStatuses(nan, { store }), /job scale\/y params.factor: NaN/);
  });
});

Deno.test("jobStatuses orders inputs before their users whatever order jobs are given in", async () => {
  await withCache(async (store) => {
    const plan = await jobStatuses(pipeline().reverse(), { store });
    assert.deepEqual(plan.jobs.map((p) => p.job.id), [
      "generate/x",
      "stats/x",
      "scale/y",
      "quantize/q",
      "summarize/q",
    ]);
  });
});
