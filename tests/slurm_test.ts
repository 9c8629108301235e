/**
 * `run --executor slurm` on a real one-node Slurm cluster (tests/slurm_cluster.ts starts munged,
 * slurmctld and slurmd, and stops them after), through the CLI as a user runs it: every job a
 * Slurm job running `deno task job KEY`, the cache the only channel. Skipped, with the reason
 * printed, where Slurm and munge are not installed (CI installs them: .ci/run).
 */
import assert from "node:assert/strict";
import { ABLATIONS, REDUCED, resultFiles } from "./ablations.ts";
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
} from "./cli_sandbox.ts";
import { writeFolderSetup } from "./folder_fixture.ts";
import { type SlurmCluster, slurmMissing, startSlurmCluster } from "./slurm_cluster.ts";

const missing = slurmMissing();
if (missing !== null) console.log(`tests/slurm_test.ts skipped: ${missing}`);

const SLURM = ["--executor", "slurm"];

/** A sandbox whose commands reach `cluster`. */
async function clusterSandbox(cluster: SlurmCluster): Promise<Sandbox> {
  const box = await sandbox("rankone-slurm-run-");
  Object.assign(box.env, cluster.env);
  return box;
}

/** How many jobs a run that stopped had run, from its last display line. */
function stoppedRan(stderr: string): number {
  const match = /^stopped: (\d+) ran, \d+ cached/m.exec(stderr);
  assert.ok(match, `no "stopped:" line in:\n${stderr}`);
  return Number(match[1]);
}

async function squeue(cluster: SlurmCluster, args: string[]): Promise<string[]> {
  const output = await new Deno.Command("squeue", {
    args: ["--noheader", ...args],
    env: cluster.env,
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").map((line) => line.trim())
    .filter((line) => line !== "");
}

/** Waits until none of this cluster's jobs is queued or running. */
async function queueEmpty(cluster: SlurmCluster): Promise<void> {
  const deadline = performance.now() + 30_000;
  while ((await squeue(cluster, ["--format=%i"])).length > 0) {
    assert.ok(performance.now() < deadline, "Slurm jobs still queued after 30 s");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

Deno.test({
  name: "run --executor slurm on a one-node cluster",
  ignore: missing !== null,
  fn: async (t) => {
    const cluster = await startSlurmCluster();
    const boxes: Sandbox[] = [];
    const box = async () => {
      const made = await clusterSandbox(cluster);
      boxes.push(made);
      return made;
    };
    try {
      const local = await box();
      const reference = await cli(local, ["run", ABLATIONS, ...REDUCED]);
      assert.equal(reference.code, 0, reference.stderr);
      const expected = await resultFiles(local.results);

      await t.step(
        "the quickstart ablations matrix through Slurm gives results byte-identical to a local run",
        async () => {
          const remote = await box();
          const run = await cli(remote, ["run", ABLATIONS, ...REDUCED, ...SLURM]);
          assert.equal(run.code, 0, run.stderr);
          assert.equal(ranCount(run.stdout), 38);
          assert.equal(run.stderr.match(/submitted as Slurm job \d+/g)?.length, 38);
          assert.deepEqual(await resultFiles(remote.results), expected);
          assert.deepEqual(await leftovers(remote), []);
          // Each job's log is in the cache, named by key and Slurm job id, and tells its story.
          const logs = [...Deno.readDirSync(`${remote.cache}/logs`)].map((entry) => entry.name);
          assert.equal(logs.length, 38);
          assert.ok(logs.every((name) => /^[0-9a-f]{64}\.\d+\.log$/.test(name)), logs.join(", "));
          const log = await Deno.readTextFile(`${remote.cache}/logs/${logs[0]}`);
          assert.match(log, /^job \{"key":"[0-9a-f]{64}","id":"[^"]+",.*"slurmJob":"\d+"/m);
          assert.match(log, /^done \{"status":"ran"/m);
        },
      );

      await t.step(
        "a rerun after scancel of half the submitted jobs finishes what is left, nothing twice",
        async () => {
          const alone = await box();
          const whole = await cli(alone, ["run", TINY]);
          assert.equal(whole.code, 0, whole.stderr);
          const remote = await box();
          const child = spawnCli(remote, ["run", TINY, ...SLURM]);
          // Once jobs are queued behind the two that run, cancel every other one of ours.
          const { seen, rest } = await waitFor(
            child.stderr,
            (text) => (text.match(/submitted as Slurm job \d+/g)?.length ?? 0) >= 6,
          );
          const ours = await squeue(cluster, ["--format=%i", "--states=PENDING,RUNNING"]);
          const cancelled = ours.filter((_, i) => i % 2 === 0);
          assert.ok(cancelled.length >= 2, `only ${ours.length} jobs queued:\n${seen}`);
          const scancel = await new Deno.Command("scancel", { args: cancelled, env: cluster.env })
            .output();
          assert.equal(scancel.code, 0);
          const status = await child.status;
          const stderr = seen + await rest;
          assert.equal(status.code, 1, stderr);
          const named = [...stderr.matchAll(/failed in Slurm job (\d+)/g)].map((match) => match[1]);
          assert.ok(named.length > 0 && named.every((id) => cancelled.includes(id!)), stderr);
          assert.match(stderr, /waiting for \d+ running job\(s\) to finish before stopping/);
          await queueEmpty(cluster);

          const rerun = await cli(remote, ["run", TINY, ...SLURM]);
          assert.equal(rerun.code, 0, rerun.stderr);
          assert.equal(stoppedRan(stderr) + ranCount(rerun.stdout), 24);
          assert.deepEqual(await resultFiles(remote.results), await resultFiles(alone.results));
          assert.deepEqual(await leftovers(remote), []);
        },
      );

      await t.step(
        "a job that fails on a node is reported with its Slurm job id, the rankone job and its log",
        async () => {
          const remote = await box();
          const setup = await writeFolderSetup(remote.root);
          for await (const entry of Deno.readDir(`${setup.data}/dtd/dtd/images`)) {
            const folder = `${setup.data}/dtd/dtd/images/${entry.name}`;
            for await (const image of Deno.readDir(folder)) {
              await Deno.writeTextFile(`${folder}/${image.name}`, "x");
            }
          }
          const run = await cli(remote, [
            "run",
            setup.pipeline,
            "--until",
            "prepare/DTD",
            ...SLURM,
          ]);
          assert.equal(run.code, 1, run.stderr);
          const match = new RegExp(
            "^error: prepare/DTD failed in Slurm job (\\d+) on \\S+: prepare/DTD: DTD \\(test " +
              "split\\): Cannot decode image .*; log: (\\S+)$",
            "m",
          ).exec(run.stderr);
          assert.ok(match, run.stderr);
          const log = await Deno.readTextFile(match[2]!);
          assert.ok(match[2]!.endsWith(`.${match[1]}.log`));
          assert.match(
            log,
            new RegExp(`^job \\{.*"id":"prepare/DTD".*"slurmJob":"${match[1]}"`, "m"),
          );
          assert.match(
            log,
            /^failed \{"message":"prepare\/DTD: DTD \(test split\): Cannot decode/m,
          );
          assert.deepEqual(await leftovers(remote), []);
        },
      );

      await t.step(
        "the inference engine and device reach each job as asked and are resolved on its node",
        async () => {
          const remote = await box();
          // TF.js with a device is refused on every machine: here by the node, not the driver.
          const engine = ["--engine", "tfjs", "--device", "cpu"];
          const until = ["--until", "head/after-00/DTD"];
          const run = await cli(remote, ["run", TINY, ...engine, ...until, ...SLURM]);
          assert.equal(run.code, 2, run.stderr);
          assert.match(
            run.stderr,
            /^error: head\/after-00\/DTD failed in Slurm job \d+ on \S+: .*Inference engine tfjs on device cpu cannot run here: .*; log: \S+$/m,
          );
          // The jobs before it ran on the node: the driver did not refuse the run up front.
          assert.equal(stoppedRan(run.stderr), 3);
          assert.deepEqual(await leftovers(remote), []);
        },
      );

      await t.step(
        "Ctrl-C on the driver cancels its Slurm jobs: exit 130, the workers clean up",
        async () => {
          const remote = await box();
          const long = ["--set", "train.steps=150", "--set", "train.iterations=150"];
          const until = ["--until", "train/task-01-DTD"];
          const child = spawnCli(remote, ["run", TINY, ...long, ...until, ...SLURM]);
          const { rest } = await waitFor(child.stderr, /train\/task-01-DTD: \d+\/150 it/);
          child.kill("SIGINT");
          const status = await child.status;
          const stderr = await rest;
          assert.equal(status.code, 130, stderr);
          assert.match(stderr, /train\/task-01-DTD: cancelled Slurm job \d+/);
          await queueEmpty(cluster);
          assert.deepEqual(await leftovers(remote), []);
          assert.equal(await exists(`${remote.results}/tiny/default`), false);
        },
      );
    } finally {
      await cluster.stop();
      for (const made of boxes) await Deno.remove(made.root, { recursive: true });
    }
  },
});
