import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildRunGraph } from "../plan/build.ts";
import { shareJobs } from "../plan/share.ts";
import { DEFAULT_SLURM_RESOURCES } from "../spec/executor.ts";
import { compileSpec } from "../spec/mod.ts";
import { resourcesByJob, sbatchArgs, shellQuote } from "./slurm.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const TINY = `${REPO}tests/fixtures/pipelines/tiny.yaml`;

Deno.test("sbatchArgs maps a stage kind's resources to sbatch options, the command last", () => {
  const job = { name: "rankone:train/task-01-DTD", log: "/c/logs/k.%j.log", command: "exec deno" };
  const resources = {
    cpus: 4,
    gpus: 1,
    mem: "32G",
    time: "2:00:00",
    partition: "gpu",
    options: ["--qos=high"],
  };
  assert.deepEqual(sbatchArgs(resources, job), [
    "--parsable",
    "--job-name=rankone:train/task-01-DTD",
    "--output=/c/logs/k.%j.log",
    `--chdir=${REPO}`,
    "--export=ALL,DENO_NO_UPDATE_CHECK=1,NO_COLOR=1",
    "--cpus-per-task=4",
    "--partition=gpu",
    "--gpus=1",
    "--mem=32G",
    "--time=2:00:00",
    "--qos=high",
    "--wrap",
    "exec deno",
  ]);
  // The defaults ask for one CPU and leave memory, time, GPUs and partition to the cluster;
  // --slurm-partition wins over the spec's.
  const plain = sbatchArgs(DEFAULT_SLURM_RESOURCES, { ...job, partition: "debug" });
  assert.deepEqual(plain.slice(5), [
    "--cpus-per-task=1",
    "--partition=debug",
    "--wrap",
    "exec deno",
  ]);
  assert.deepEqual(
    sbatchArgs(resources, { ...job, partition: "debug" }).filter((a) => a.startsWith("--part")),
    ["--partition=debug"],
  );
});

Deno.test("shellQuote leaves plain words alone and single-quotes the rest, quotes included", () => {
  assert.equal(shellQuote("/usr/bin/deno"), "/usr/bin/deno");
  assert.equal(shellQuote("/data/my cache"), "'/data/my cache'");
  assert.equal(shellQuote("it's"), `'it'"'"'s'`);
  assert.equal(shellQuote("$HOME"), "'$HOME'");
});

Deno.test("resourcesByJob gives each job its kind's resources from the first run that has it", async () => {
  const set = [
    "executor.slurm.train={ gpus: 1, mem: 16G }",
    "executor.slurm.default={ cpus: 2 }",
  ];
  const runs = compileSpec(TINY, { cwd: REPO, set }).runs;
  const graphs = await Promise.all(runs.map((run) => buildRunGraph(run)));
  const { jobs, graphs: shared } = shareJobs(graphs);
  const resources = resourcesByJob(shared);
  const train = jobs.find((job) => job.kind === "train")!;
  const report = jobs.find((job) => job.kind === "report")!;
  assert.deepEqual(resources(train), { ...DEFAULT_SLURM_RESOURCES, cpus: 2, gpus: 1, mem: "16G" });
  assert.deepEqual(resources(report), { ...DEFAULT_SLURM_RESOURCES, cpus: 2 });
});
