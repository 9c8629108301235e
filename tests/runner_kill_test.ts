import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { collectGarbage } from "../src/cache/gc.ts";
import { CacheStore } from "../src/cache/store.ts";
import { jobStatuses } from "../src/runner/status.ts";
import { runJobs } from "../src/runner/run.ts";
import { pipeline, testStages } from "./runner_stages.ts";
import { withTempDir } from "./temp_dir.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/runner_pipeline.ts", import.meta.url));

/** The fixture pipeline on cache `root`, its progress lines on stdout (see the fixture). */
function spawnFixture(root: string, delayMs: number, mode = ""): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, root, String(delayMs), mode],
    stdout: "piped",
    stderr: "null",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
}

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
    const child = spawnFixture(killedRoot, 3000);
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
    const afterKill = await jobStatuses(pipeline(), { store, stages: testStages() });
    assert.deepEqual(afterKill.jobs.map((p) => p.status), [
      "cached",
      "run",
      "pending",
      "pending",
      "run",
    ]);

    const resumed = await runJobs(await jobStatuses(pipeline(), { store, stages: testStages() }));
    assert.deepEqual(resumed.results.map((r) => r.status), ["cached", "ran", "ran", "ran", "ran"]);
    const cleanStore = await CacheStore.open(cleanRoot);
    const clean = await runJobs(
      await jobStatuses(pipeline(), { store: cleanStore, stages: testStages() }),
    );
    assert.deepEqual(resumed.results.map((r) => r.digest), clean.results.map((r) => r.digest));
    assert.deepEqual(await artifactFiles(store), await artifactFiles(cleanStore));

    // The leftover belongs to a dead process: gc removes it, and nothing else.
    const report = await collectGarbage(store, {});
    assert.deepEqual(report.removed.map((r) => r.what), ["temp"]);
    for await (const _ of Deno.readDir(store.tmpDir)) assert.fail("tmp/ should be empty after gc");
    assert.equal(
      (await jobStatuses(pipeline(), { store, stages: testStages() })).jobs.every((p) =>
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
    const child = spawnFixture(root, 3000);
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
    const plan = await jobStatuses(pipeline(), { store, stages: testStages() });
    assert.deepEqual(plan.jobs.slice(0, 2).map((p) => p.status), ["cached", "run"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs the fixture, sends `signals` once the scale job reports `after`, returns how it ended. */
async function interrupt(
  root: string,
  options: { delayMs: number; mode?: string; after: string; signals: Deno.Signal[] },
): Promise<{ status: Deno.CommandStatus; seen: string; secondToExit: number }> {
  const child = spawnFixture(root, options.delayMs, options.mode);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let sentAt = 0;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
    if (sentAt === 0 && seen.includes(options.after)) {
      for (const [i, signal] of options.signals.entries()) {
        if (i > 0) await new Promise((wait) => setTimeout(wait, 200));
        child.kill(signal);
      }
      sentAt = performance.now();
    }
  }
  const status = await child.status;
  return { status, seen, secondToExit: (performance.now() - sentAt) / 1000 };
}

async function leftovers(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ["tmp", "locks", "runs"]) {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) found.push(`${dir}/${entry.name}`);
  }
  return found;
}

Deno.test("SIGTERM mid-job stops the run with exit code 143 and leaves no temp folder or lock", async () => {
  await withTempDir("rankone-term-", async (root) => {
    const { status, seen } = await interrupt(root, {
      delayMs: 3000,
      after: "progress scale/y 2/10",
      signals: ["SIGTERM"],
    });
    assert.equal(status.code, 143);
    assert.match(seen, /signal SIGTERM\n/);
    assert.match(seen, /error: terminated during scale\/y; its partial output was discarded/);
    assert.deepEqual(await leftovers(root), []);
  });
});

Deno.test("a second Ctrl-C exits at once (130) when the job does not stop, removing its temp folder", async () => {
  await withTempDir("rankone-int2-", async (root) => {
    const { status, seen, secondToExit } = await interrupt(root, {
      delayMs: 10_000,
      mode: "ignore-abort",
      after: "progress scale/y 2/10",
      signals: ["SIGINT", "SIGINT"],
    });
    assert.equal(status.code, 130);
    assert.doesNotMatch(seen, /progress scale\/y 4\/10/); // stopped within the job
    assert.ok(secondToExit < 1.5, `${secondToExit.toFixed(2)} s`);
    assert.deepEqual(await leftovers(root), []);
  });
});

Deno.test("a second Ctrl-C ends a process stuck in one long computation within about a second", async () => {
  await withTempDir("rankone-busy-", async (root) => {
    const { status, secondToExit } = await interrupt(root, {
      delayMs: 100,
      mode: "busy",
      after: "progress scale/y 10/10",
      signals: ["SIGINT", "SIGINT"],
    });
    // The main thread never got to its check: the watcher removed the leftovers and killed it.
    assert.equal(status.signal, "SIGKILL");
    assert.ok(secondToExit < 3, `${secondToExit.toFixed(2)} s (the job computes for 20 s)`);
    assert.deepEqual(await leftovers(root), []);
  });
});
