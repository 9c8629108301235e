/**
 * Runs that meet each other and the user through the CLI: two identical runs at once, `cache gc`
 * during a run, Ctrl-C and SIGTERM in the middle of training, usage errors.
 */
import assert from "node:assert/strict";
import {
  cli,
  exists,
  leftovers,
  ranCount,
  type Sandbox,
  sandbox,
  spawnCli,
  TINY,
  waitFor,
  withSandbox,
} from "./cli_sandbox.ts";
import { cudaProviderMissing } from "../src/clip/onnx/runtime.ts";

/** The result files that carry numbers. */
async function resultFiles(box: Sandbox): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of ["accuracy_matrix.csv", "metrics.json", "tables.md", "training.json"]) {
    files[name] = await Deno.readTextFile(`${box.results}/tiny/default/${name}`);
  }
  return files;
}

/** `deno task run` in the sandbox, as a child whose stdout and stderr are collected. */
function start(box: Sandbox, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${import.meta.dirname}/../src/cli/main.ts`, "run", ...args],
    env: box.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return child.output().then((output) => ({
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  }));
}

Deno.test("two identical runs at once compute each job once, both succeed and give identical results", async () => {
  const box = await sandbox();
  const single = await sandbox("rankone-single-");
  try {
    const [a, b] = await Promise.all([start(box, [TINY]), start(box, [TINY])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(ranCount(a.stdout) + ranCount(b.stdout), 24);
    assert.match(a.stderr + b.stderr, /waiting: (pid \d+ on \S+|another process) is computing it/);
    const again = await cli(box, ["run", TINY]);
    assert.equal(ranCount(again.stdout), 0);
    const alone = await cli(single, ["run", TINY]);
    assert.equal(alone.code, 0, alone.stderr);
    assert.deepEqual(await resultFiles(box), await resultFiles(single));
    assert.deepEqual(await leftovers(box), []);
  } finally {
    await Deno.remove(box.root, { recursive: true });
    await Deno.remove(single.root, { recursive: true });
  }
});

Deno.test("cache gc --unused-days 0 during a run removes nothing the run needs", async () => {
  await withSandbox(async (box) => {
    const slow = ["--set", "train.steps=30", "--set", "train.iterations=30"];
    const child = spawnCli(box, ["run", TINY, ...slow]);
    const { rest } = await waitFor(child.stderr, /train\/task-01-DTD: run/);
    const gc = await cli(box, ["cache", "gc", "--unused-days", "0"]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(
      gc.stdout,
      /^removed 0 entries, 0 B from .*; kept \d+ in use by a running pipeline$/m,
    );
    const status = await child.status;
    const stderr = await rest;
    assert.equal(status.code, 0, stderr);
    const again = await cli(box, ["run", TINY, ...slow]);
    assert.equal(ranCount(again.stdout), 0, "every artifact of the run is still there");
    // Without a run, the same command removes everything.
    const after = await cli(box, ["cache", "gc", "--unused-days", "0"]);
    assert.match(after.stdout, /^removed 24 entries/m);
  });
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} during a 150-step training exits ${code} within 2 s, one message, nothing left behind`, async () => {
    await withSandbox(async (box) => {
      const long = ["--set", "train.steps=150", "--set", "train.iterations=150"];
      const child = spawnCli(box, ["run", TINY, ...long]);
      const { rest } = await waitFor(child.stderr, /train\/task-01-DTD: \d+\/150 it/);
      const sent = performance.now();
      child.kill(signal);
      const status = await child.status;
      const seconds = (performance.now() - sent) / 1000;
      const stderr = await rest;
      assert.equal(status.code, code, stderr);
      assert.ok(seconds < 2, `exited ${seconds.toFixed(2)} s after ${signal}`);
      assert.equal(stderr.match(new RegExp(`${signal}: stopping`, "g"))?.length, 1);
      assert.match(stderr, /error: (interrupted|terminated) during train\/task-01-DTD/);
      assert.deepEqual(await leftovers(box), []);
      assert.equal(await exists(`${box.results}/tiny/default`), false);
    });
  });
}

Deno.test("usage errors exit 2: --until or --force naming no job", async () => {
  await withSandbox(async (box) => {
    for (const flag of ["--until", "--force"]) {
      const result = await cli(box, ["run", TINY, flag, "nosuchstage"]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, `error: ${flag} nosuchstage: no job has this id or kind\n`);
    }
  });
});

Deno.test("an inference engine or device that cannot be used exits 2 before any job runs; an unknown one is a usage error", async () => {
  await withSandbox(async (box) => {
    const unknown = await cli(box, ["run", TINY, "--engine", "tensorrt"]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /^--engine tensorrt: expected one of auto, onnx, tfjs\nusage:/);
    // A device belongs to ONNX Runtime: TF.js with one is refused on every machine. CUDA is
    // refused where its provider libraries are missing (the usual CPU machine).
    const refused = [["--engine", "tfjs", "--device", "cpu"]];
    if (cudaProviderMissing() !== null) refused.push(["--engine", "onnx", "--device", "cuda"]);
    for (const flags of refused) {
      const result = await cli(box, ["run", TINY, ...flags]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^error: Inference engine \S+ on device \S+ cannot run here: /);
      // Stopped before the first job: nothing was computed, nothing printed as run.
      assert.deepEqual([...Deno.readDirSync(`${box.cache}/artifacts`)], []);
      assert.doesNotMatch(result.stdout, /\[1\/\d+\]/);
    }
  });
});
