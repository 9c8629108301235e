import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { collectGarbage } from "../src/cache/gc.ts";
import { CacheStore } from "../src/cache/store.ts";
import { planJobs } from "../src/runner/plan.ts";
import { runJobs } from "../src/runner/run.ts";
import { pipeline, testStages } from "./runner_stages.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/runner_pipeline.ts", import.meta.url));

/** Every file under the artifacts folder with its bytes, by relative path (stamps excluded). */
async function artifactFiles(store: CacheStore): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  async function walk(dir: string, prefix: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`, `${path}/`);
      else if (entry.name.endsWith(".npy") || entry.name.endsWith(".json")) {
        if (entry.name === "stamp.json" || entry.name === "manifest.json") continue;
        files.set(
          path,
          new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${entry.name}`)),
        );
      }
    }
  }
  await walk(store.artifactsDir, "");
  return files;
}

Deno.test("SIGKILL mid-job leaves only a temp folder; the rerun matches an uninterrupted run byte for byte", async () => {
  const killedRoot = await Deno.makeTempDir({ prefix: "rankone-kill-" });
  const cleanRoot = await Deno.makeTempDir({ prefix: "rankone-clean-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURE, killedRoot, "3000"],
      stdout: "piped",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("progress scale/y 2/10")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    child.kill("SIGKILL");
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    assert.match(seen, /progress scale\/y 2\/10/);

    const store = await CacheStore.open(killedRoot);
    const leftovers: string[] = [];
    for await (const entry of Deno.readDir(store.tmpDir)) leftovers.push(entry.name);
    assert.equal(leftovers.length, 1, "the killed job's temp folder");
    const afterKill = await planJobs(pipeline(), { store, stages: testStages() });
    assert.deepEqual(afterKill.jobs.map((p) => p.status), [
      "cached",
      "run",
      "pending",
      "pending",
      "run",
    ]);

    const resumed = await runJobs(await planJobs(pipeline(), { store, stages: testStages() }));
    assert.deepEqual(resumed.results.map((r) => r.status), ["cached", "ran", "ran", "ran", "ran"]);
    const cleanStore = await CacheStore.open(cleanRoot);
    const clean = await runJobs(
      await planJobs(pipeline(), { store: cleanStore, stages: testStages() }),
    );
    assert.deepEqual(resumed.results.map((r) => r.digest), clean.results.map((r) => r.digest));
    assert.deepEqual(await artifactFiles(store), await artifactFiles(cleanStore));

    // The leftover belongs to a dead process: gc removes it, and nothing else.
    const report = await collectGarbage(store, {});
    assert.deepEqual(report.removed.map((r) => r.what), ["temp"]);
    for await (const _ of Deno.readDir(store.tmpDir)) assert.fail("tmp/ should be empty after gc");
    assert.equal(
      (await planJobs(pipeline(), { store, stages: testStages() })).jobs.every((p) =>
        p.status === "cached"
      ),
      true,
    );
  } finally {
    await Deno.remove(killedRoot, { recursive: true });
    await Deno.remove(cleanRoot, { recursive: true });
  }
});

Deno.test("SIGINT mid-job stops the run with exit code 130 and leaves no temp folder or artifact", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-int-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURE, root, "3000"],
      stdout: "piped",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let interrupted = false;
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
      if (!interrupted && seen.includes("progress scale/y 2/10")) {
        child.kill("SIGINT");
        interrupted = true;
      }
    }
    const status = await child.status;
    assert.equal(status.code, 130);
    assert.match(seen, /error: interrupted during scale\/y; its partial output was discarded/);
    const store = await CacheStore.open(root);
    for await (const _ of Deno.readDir(store.tmpDir)) assert.fail("tmp/ should be empty");
    const plan = await planJobs(pipeline(), { store, stages: testStages() });
    assert.deepEqual(plan.jobs.slice(0, 2).map((p) => p.status), ["cached", "run"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
