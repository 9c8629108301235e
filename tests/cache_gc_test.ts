import assert from "node:assert/strict";
import { join } from "node:path";
import { collectGarbage, listArtifacts } from "../src/cache/gc.ts";
import { CacheStore } from "../src/cache/store.ts";
import { main as cacheMain } from "../src/cli/cache.ts";
import { jobStatuses } from "../src/runner/status.ts";
import { runJobs } from "../src/runner/run.ts";
import { pipeline, type PipelineOptions, testStages } from "./runner_stages.ts";

async function withCache(body: (store: CacheStore) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "rankone-gc-test-" });
  try {
    await body(await CacheStore.open(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function run(store: CacheStore, options: PipelineOptions = {}) {
  return await runJobs(await jobStatuses(pipeline(options), { store, stages: testStages() }));
}

Deno.test("listArtifacts names each artifact's kind, job and size, and which are superseded", async () => {
  await withCache(async (store) => {
    await run(store, { factor: 2 });
    await run(store, { factor: 3 });
    const infos = await listArtifacts(store);
    // 5 jobs, then scale, quantize and summarize again: 8 artifacts, 3 of them superseded.
    assert.equal(infos.length, 8);
    const superseded = infos.filter((info) => info.indexedBy.length === 0).map((i) => i.jobId);
    assert.deepEqual(superseded.sort(), ["quantize/q", "scale/y", "summarize/q"]);
    const generate = infos.find((info) => info.kind === "generate")!;
    // x.npy: 128-byte header + 64 float32; plus manifest, stamp and the log line.
    assert.ok(generate.bytes > 128 + 256, String(generate.bytes));
    assert.equal(generate.problem, null);
  });
});

Deno.test("gc --unreachable removes superseded artifacts; --dry-run removes nothing", async () => {
  await withCache(async (store) => {
    await run(store, { factor: 2 });
    await run(store, { factor: 3 });
    const dry = await collectGarbage(store, { unreachable: true, dryRun: true });
    assert.equal(dry.removed.length, 3);
    assert.equal((await listArtifacts(store)).length, 8);
    const real = await collectGarbage(store, { unreachable: true });
    assert.deepEqual(real.removed.map((r) => r.what), [
      "unreachable",
      "unreachable",
      "unreachable",
    ]);
    assert.equal((await listArtifacts(store)).length, 5);
    const replanned = await jobStatuses(pipeline({ factor: 3 }), { store });
    assert.ok(replanned.jobs.every((p) => p.status === "cached"));
  });
});

Deno.test("gc --unused-days removes artifacts whose last use is older than N days", async () => {
  await withCache(async (store) => {
    await run(store);
    const inTenDays = new Date(Date.now() + 10 * 86_400_000);
    assert.equal(
      (await collectGarbage(store, { unusedDays: 30, now: inTenDays })).removed.length,
      0,
    );
    const report = await collectGarbage(store, { unusedDays: 7, now: inTenDays });
    assert.equal(report.removed.length, 5);
    assert.ok(
      report.removed.every((r) => r.what === "unused" && /unused for 10\.0 days/.test(r.detail)),
    );
    assert.equal((await listArtifacts(store)).length, 0);
  });
});

Deno.test("cache ls and gc do not count as a use: an artifact unused for days stays unused after them", async () => {
  await withCache(async (store) => {
    await run(store);
    // Age every artifact's last use by 20 days, as if the pipeline had not run since.
    const aged = new Date(Date.now() - 20 * 86_400_000).toISOString();
    for await (const entry of Deno.readDir(store.artifactsDir)) {
      const stampPath = join(store.artifactRoot(entry.name), "stamp.json");
      const stamp = JSON.parse(await Deno.readTextFile(stampPath));
      await Deno.writeTextFile(stampPath, JSON.stringify({ ...stamp, lastUsed: aged }));
    }
    await listArtifacts(store);
    await collectGarbage(store, { unusedDays: 30 });
    assert.ok((await listArtifacts(store)).every((info) => info.lastUsed?.toISOString() === aged));
    const report = await collectGarbage(store, { unusedDays: 7 });
    assert.equal(report.removed.length, 5);
  });
});

Deno.test("gc removes a corrupt artifact and leaves the good ones", async () => {
  await withCache(async (store) => {
    const summary = await run(store);
    const stats = summary.results.find((r) => r.id === "stats/x")!;
    await Deno.writeTextFile(join(stats.dir, "stray.txt"), "x");
    const report = await collectGarbage(store, {});
    assert.deepEqual(report.removed.map((r) => r.detail), [
      `${stats.key}: unexpected file data/stray.txt`,
    ]);
    assert.equal((await listArtifacts(store)).length, 4);
  });
});

Deno.test("cache CLI: ls and gc exit 0, unknown flags and subcommands exit 2", async () => {
  await withCache(async (store) => {
    await run(store);
    const log = console.log;
    const error = console.error;
    const lines: string[] = [];
    console.log = (line: string) => lines.push(line);
    console.error = () => {};
    try {
      assert.equal(await cacheMain(["ls", "--cache", store.root]), 0);
      assert.match(lines[0]!, /^KIND\s+JOB\s+SIZE\s+AGE\s+USED\s+STATE\s+KEY$/);
      assert.match(
        lines[1]!,
        /^generate\s+generate\/x\s+\d+\.\d KiB\s+\d+s\s+\d+s\s+current\s+[0-9a-f]{12}$/,
      );
      assert.match(lines.at(-1)!, /^5 artifacts, /);
      lines.length = 0;
      assert.equal(await cacheMain(["gc", "--cache", store.root, "--dry-run"]), 0);
      assert.match(lines.at(-1)!, /^would remove 0 entries, 0 B from /);
      assert.equal(await cacheMain(["gc", "--bogus"]), 2);
      assert.equal(await cacheMain(["ls", "--unreachable"]), 2);
      assert.equal(await cacheMain(["purge"]), 2);
      assert.equal(await cacheMain(["gc", "--unused-days", "soon"]), 2);
    } finally {
      console.log = log;
      console.error = error;
    }
  });
});

Deno.test("gc removes file lists of source digests no job uses any more, after an hour", async () => {
  await withCache(async (store) => {
    await run(store);
    const old = join(store.treesDir, `${"0".repeat(64)}.json`);
    const fresh = join(store.treesDir, `${"1".repeat(64)}.json`);
    await Deno.writeTextFile(old, "{}");
    await Deno.writeTextFile(fresh, "{}");
    const hoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await Deno.utime(old, hoursAgo, hoursAgo);
    const report = await collectGarbage(store, {});
    assert.deepEqual(report.removed.map((r) => `${r.what} ${r.detail}`), [
      `file list trees/${"0".repeat(64)}.json`,
    ]);
    assert.equal(await Deno.stat(fresh).then(() => true), true);
  });
});

Deno.test("gc removes a cluster job's log an hour after its artifact exists, a failed job's after a week", async () => {
  await withCache(async (store) => {
    const summary = await run(store);
    const done = summary.results[0]!.key;
    const failed = "f".repeat(64);
    const doneLog = join(store.logsDir, `${done}.101.log`);
    const failedLog = join(store.logsDir, `${failed}.102.log`);
    for (const path of [doneLog, failedLog]) await Deno.writeTextFile(path, "job {}\n");
    const later = (hours: number) => new Date(Date.now() + hours * 3_600_000);
    const logs = async (hours: number) =>
      (await collectGarbage(store, { now: later(hours), dryRun: true })).removed
        .filter((removal) => removal.what === "log").map((removal) => removal.path);
    assert.deepEqual(await logs(0.5), []);
    assert.deepEqual(await logs(2), [doneLog]);
    assert.deepEqual((await logs(7 * 24 + 1)).sort(), [doneLog, failedLog].sort());
    await collectGarbage(store, { now: later(2) });
    assert.deepEqual([...Deno.readDirSync(store.logsDir)].map((entry) => entry.name), [
      `${failed}.102.log`,
    ]);
  });
});
