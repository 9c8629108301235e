import assert from "node:assert/strict";
import { DEFAULT_MAX_JOBS, parseExecution } from "./execution.ts";
import type { PipelineFlags } from "./pipeline.ts";

const FLAGS: PipelineFlags = { file: "p.yaml", set: [], vars: {}, force: [], verify: false };

Deno.test("parseExecution: local with --jobs (default 1), slurm with --max-jobs and --slurm-partition", () => {
  assert.deepEqual(parseExecution(FLAGS), { executor: "local", jobs: 1 });
  assert.deepEqual(parseExecution({ ...FLAGS, jobs: "4" }), { executor: "local", jobs: 4 });
  assert.deepEqual(parseExecution({ ...FLAGS, executor: "slurm" }), {
    executor: "slurm",
    maxJobs: DEFAULT_MAX_JOBS,
    partition: undefined,
  });
  assert.deepEqual(
    parseExecution({ ...FLAGS, executor: "slurm", maxJobs: "8", slurmPartition: "gpu" }),
    { executor: "slurm", maxJobs: 8, partition: "gpu" },
  );
});

Deno.test("parseExecution names what is wrong with the flags (the CLI exits 2 with it)", () => {
  const problems: [Partial<PipelineFlags>, string][] = [
    [{ jobs: "0" }, "--jobs 0: expected a whole number of at least 1"],
    [{ jobs: "two" }, "--jobs two: expected a whole number of at least 1"],
    [{ maxJobs: "3" }, "--max-jobs is for --executor slurm"],
    [{ slurmPartition: "gpu" }, "--slurm-partition is for --executor slurm"],
    [
      { executor: "slurm", jobs: "2" },
      "--jobs is for --executor local; with slurm, --max-jobs caps the queue",
    ],
    [{ executor: "slurm", maxJobs: "-1" }, "--max-jobs -1: expected a whole number of at least 1"],
    [{ executor: "kubernetes" }, "--executor kubernetes: expected local or slurm"],
  ];
  for (const [flags, problem] of problems) {
    assert.deepEqual(parseExecution({ ...FLAGS, ...flags }), { problem });
  }
});
