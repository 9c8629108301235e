/**
 * Overhead of the job runner:
 * - cachedPipeline: a fully cached run of the 11-task pipeline (generated model and data) as a
 *   whole `deno task run` process (start-up, compile, plan, verify, results folder);
 * - cachedFolderPipeline: the same over a weights folder and a data root, so every model,
 *   prepare, fewshot job has sources, with the state table warm (files statted, not hashed);
 * - firstSightHashing: hashing 100k small files (a data root seen for the first time) and
 *   re-statting them with the state table warm;
 * - syntheticGraph: a 12-task MTIL-shaped graph (100 jobs) of sized artifacts, cold and cached,
 *   with the default stamp verification and with full rehashing. Artifact sizes are the real
 *   pipeline's (CLIP ViT-B/16 fp32 weights, prepared splits, adapters, heads) times `--scale`.
 * - quickstart: `pipelines/quickstart.yaml` as a user runs it, a whole `deno task run` process on
 *   an empty cache (training, heads and evaluations on the engine `auto` picks), then fully
 *   cached; the seconds its jobs took, by kind.
 * - planCommand: `deno task plan` on the 11-task pipeline as a whole process (start-up, compile,
 *   build the jobs, plan them against an empty cache), and what it loads (local modules, npm
 *   packages, and of those the tensor, image and plotting libraries). With `--against PATH` another
 *   checkout's `src/cli/main.ts` is timed too, the two taking turns so that both see the same load.
 * - parallelLocal: the quickstart ablations matrix from an empty cache with `--jobs 1` and with
 *   `--jobs 2` (interleaved, so both see the same load), its wall-clock ratio, and whether the
 *   two give the same results byte for byte (but for what they measure: speeds, timings).
 * The previous recorded cached-pipeline figure is kept beside the new one. `--only` runs some of
 * the cases and keeps the others' recorded figures.
 *
 * `--cli PATH` times another checkout's `src/cli/main.ts` with the same pipelines (a before /
 * after comparison in one session); `--baseline FILE` embeds such a run's figures, labelled
 * `--baseline-label`, in the new file.
 *
 *   deno run -A bench/runner.ts [--quick] [--scale 0.02] [--files 100000] [--out FILE]
 *     [--cli PATH] [--baseline FILE --baseline-label TEXT]
 *     [--only synthetic,pipeline,folders,quickstart,hashing,plan,parallel]
 *     [--against PATH --against-label TEXT]
 */
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import type { Job, JobContext, StageRegistry } from "../src/cache/job.ts";
import { SourceHasher } from "../src/cache/sources.ts";
import { StateTable } from "../src/cache/state.ts";
import { CacheStore } from "../src/cache/store.ts";
import { writeSyntheticMtil } from "../src/mtil/synthetic.ts";
import { writeWeightsFolder } from "../tests/folder_fixture.ts";
import { isRunOnlyPackage, loadedGraph } from "../tests/module_graph.ts";
import { ABLATIONS, REDUCED, resultFiles } from "../tests/ablations.ts";
import { jobStatuses } from "../src/runner/status.ts";
import { runJobs } from "../src/runner/run.ts";

const MB = 1024 * 1024;
const TASKS = 12;

/** Approximate artifact sizes of the real pipeline, in MB. */
const SIZES_MB = {
  "load-clip": 598, // ViT-B/16 fp32: ~150M parameters
  "prepare-train": 20, // 5-shot train split, uint8 224x224x3 per image
  "prepare-test": 100, // test split, uint8
  "few-shot": 20,
  train: 10, // 144 modules x rank-12 A and B + routers, fp32
  orthogonalize: 1,
  merge: 10, // merged expert columns of one task
  "zero-shot-head": 2, // 12 datasets x ~100 classes x 512 fp32
  evaluate: 0.01,
  report: 0.05,
};

/** A job writing `files` random files totalling `mb` megabytes (scaled). */
function sizedJob(
  id: string,
  kind: keyof typeof SIZES_MB,
  inputs: Record<string, string>,
  options: { scale: number; files?: number },
): Job {
  const files = options.files ?? 2;
  const bytes = Math.max(16, Math.round((SIZES_MB[kind] * MB * options.scale) / files));
  return { id, kind, version: 1, params: { id, bytes, files }, inputs, sources: {} };
}

async function writeSized(ctx: JobContext, params: unknown): Promise<void> {
  const { bytes, files } = params as { bytes: number; files: number };
  const chunk = new Uint8Array(Math.min(bytes, 1 << 16));
  for (let f = 0; f < files; f++) {
    const file = await Deno.open(join(ctx.outDir, `part-${f}.bin`), {
      write: true,
      create: true,
    });
    for (let written = 0; written < bytes; written += chunk.length) {
      crypto.getRandomValues(chunk);
      await file.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
    }
    file.close();
  }
  ctx.progress(1, 1);
}

/** Every kind of the synthetic graph writes its sized files. */
const SIZED_STAGES: StageRegistry = Object.fromEntries(
  Object.keys(SIZES_MB).map((kind) => [kind, { kind, versionOf: () => 1, run: writeSized }]),
);

/** 1 load + 12 x (train/test prepare, few-shot, train, orthogonalize, merge) + 13 heads + 13 evaluations + report = 100. */
export function mtilShapedJobs(scale: number): Job[] {
  const jobs: Job[] = [sizedJob("load-clip", "load-clip", {}, { scale, files: 1 })];
  const opts = { scale };
  let state = "load-clip";
  let bank: string | null = null;
  const states = [state];
  for (let t = 1; t <= TASKS; t++) {
    const task = `task-${String(t).padStart(2, "0")}`;
    jobs.push(sizedJob(`prepare/${task}/train`, "prepare-train", {}, opts));
    jobs.push(sizedJob(`prepare/${task}/test`, "prepare-test", {}, opts));
    jobs.push(sizedJob(`few-shot/${task}`, "few-shot", { split: `prepare/${task}/train` }, opts));
    const trainInputs: Record<string, string> = { model: state, shots: `few-shot/${task}` };
    if (bank !== null) trainInputs.bank = bank;
    jobs.push(sizedJob(`train/${task}`, "train", trainInputs, opts));
    const bankInputs: Record<string, string> = { train: `train/${task}` };
    if (bank !== null) bankInputs.previous = bank;
    jobs.push(sizedJob(`orthogonalize/${task}`, "orthogonalize", bankInputs, opts));
    bank = `orthogonalize/${task}`;
    jobs.push(sizedJob(`merge/${task}`, "merge", { model: state, train: `train/${task}` }, opts));
    state = `merge/${task}`;
    states.push(state);
  }
  const tests = Array.from(
    { length: TASKS },
    (_, i) => [`t${i}`, `prepare/task-${String(i + 1).padStart(2, "0")}/test`],
  );
  const evaluations: Record<string, string> = {};
  for (const [i, model] of states.entries()) {
    jobs.push(sizedJob(`head/state-${i}`, "zero-shot-head", { model }, opts));
    const id = `evaluate/state-${i}`;
    jobs.push(
      sizedJob(
        id,
        "evaluate",
        { model, head: `head/state-${i}`, ...Object.fromEntries(tests) },
        { scale, files: 1 },
      ),
    );
    evaluations[`s${i}`] = id;
  }
  jobs.push(sizedJob("report", "report", evaluations, { scale, files: 3 }));
  return jobs;
}

export interface RunnerBench {
  jobs: number;
  files: number;
  bytes: number;
  scale: number;
  coldRunSeconds: number;
  cachedRunSeconds: number[];
  cachedRunMedianSeconds: number;
  fullVerifySeconds: number;
  fullVerifyMBPerSecond: number;
  targetSeconds: number;
}

export async function benchRunner(options: { scale: number }): Promise<RunnerBench> {
  const root = await Deno.makeTempDir({ prefix: "rankone-bench-runner-" });
  try {
    const jobs = mtilShapedJobs(options.scale);
    let t0 = performance.now();
    const cold = await runJobs(
      await jobStatuses(jobs, { store: await CacheStore.open(root), stages: SIZED_STAGES }),
    );
    const coldRunSeconds = (performance.now() - t0) / 1000;
    const cachedRunSeconds: number[] = [];
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      const store = await CacheStore.open(root);
      const summary = await runJobs(
        await jobStatuses(mtilShapedJobs(options.scale), { store, stages: SIZED_STAGES }),
      );
      cachedRunSeconds.push((performance.now() - t0) / 1000);
      if (summary.ran !== 0) throw new Error(`cached run executed ${summary.ran} jobs`);
    }
    t0 = performance.now();
    const store = await CacheStore.open(root);
    await jobStatuses(mtilShapedJobs(options.scale), { store, verify: "full" });
    const fullVerifySeconds = (performance.now() - t0) / 1000;
    let files = 0;
    let bytes = 0;
    for (const result of cold.results) {
      for await (const entry of Deno.readDir(result.dir)) {
        files++;
        bytes += (await Deno.stat(join(result.dir, entry.name))).size;
      }
    }
    const sorted = [...cachedRunSeconds].sort((a, b) => a - b);
    return {
      jobs: jobs.length,
      files,
      bytes,
      scale: options.scale,
      coldRunSeconds,
      cachedRunSeconds,
      cachedRunMedianSeconds: sorted[Math.floor(sorted.length / 2)]!,
      fullVerifySeconds,
      fullVerifyMBPerSecond: bytes / MB / fullVerifySeconds,
      targetSeconds: 2,
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const ELEVEN_TASKS = fileURLToPath(new URL("./pipelines/eleven-tasks.yaml", import.meta.url));

export interface CachedPipelineBench {
  jobs: number;
  coldSeconds: number;
  cachedSeconds: number[];
  medianSeconds: number;
}

/**
 * The overhead of a fully cached run of a real 11-task pipeline (`spec`): the whole `deno task
 * run` process (start-up, compile, plan, verify, results folder), timed over `repeats` runs after
 * one cold run fills a private cache.
 */
/** This checkout's CLI entry point (`--cli` times another one). */
const OWN_CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

interface PipelineRuns {
  /** `deno task run <spec> [args]` as a whole process on the private cache; throws on failure. */
  runOnce(args?: string[]): Promise<{ seconds: number; text: string }>;
  results: string;
}

/**
 * `cli` (a checkout's src/cli/main.ts) with `args` as a whole process on the cache `cache`: its
 * wall seconds and output; throws on failure.
 */
async function timeCommand(
  cli: string,
  args: string[],
  options: { cache: string },
): Promise<{ seconds: number; text: string }> {
  const t0 = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    // In the CLI's checkout, so that its own deno.json and packages are the ones used.
    cwd: join(dirname(cli), "..", ".."),
    env: { RANKONE_CACHE: options.cache, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`bench ${args[0]} failed:\n${text}`);
  return { seconds, text };
}

/** Runs of `spec` as whole `deno task run` processes on a private cache, for `body`. */
async function withPipelineRuns<T>(
  options: { spec: string; cli?: string },
  body: (runs: PipelineRuns) => Promise<T>,
): Promise<T> {
  const cache = await Deno.makeTempDir({ prefix: "rankone-bench-pipeline-" });
  const results = await Deno.makeTempDir({ prefix: "rankone-bench-results-" });
  const runOnce = (args: string[] = []) =>
    timeCommand(options.cli ?? OWN_CLI, ["run", options.spec, "--results", results, ...args], {
      cache,
    });
  try {
    return await body({ runOnce, results });
  } finally {
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(results, { recursive: true });
  }
}

/** Cached runs after a cold one: each must run nothing. */
async function cachedRuns(runs: PipelineRuns, repeats: number): Promise<number[]> {
  const cachedSeconds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const { seconds, text } = await runs.runOnce();
    if (!/^0 jobs ran/m.test(text)) throw new Error(`a cached run executed jobs:\n${text}`);
    cachedSeconds.push(seconds);
  }
  return cachedSeconds;
}

function jobsRan(text: string): number {
  return Number(/(\d+) jobs ran/.exec(text)?.[1] ?? NaN);
}

export async function benchCachedPipeline(
  options: { repeats: number; spec?: string; cli?: string },
): Promise<CachedPipelineBench> {
  return await withPipelineRuns(
    { spec: options.spec ?? ELEVEN_TASKS, cli: options.cli },
    async (runs) => {
      const cold = await runs.runOnce();
      const cachedSeconds = await cachedRuns(runs, options.repeats);
      return {
        jobs: jobsRan(cold.text),
        coldSeconds: cold.seconds,
        cachedSeconds,
        medianSeconds: median(cachedSeconds),
      };
    },
  );
}

const QUICKSTART = fileURLToPath(new URL("../pipelines/quickstart.yaml", import.meta.url));

/** A rerun of the quickstart's heads and evaluations only (`--force head --force evaluate`). */
export interface InferenceRerun {
  /** `--engine` given, or "default" (none: the spec's `auto`, or TF.js before engines). */
  engine: string;
  /** Whole-process seconds of each rerun (start-up, plan, the 2 x states x datasets jobs). */
  seconds: number[];
  medianSeconds: number;
  /** Seconds the head and evaluate jobs took, summed, in the median rerun. */
  headSeconds: number;
  evaluateSeconds: number;
  /** The engine line the rerun printed (absent before runs printed one). */
  inference: string | null;
}

export interface QuickstartBench extends CachedPipelineBench {
  /** Seconds the cold run's jobs took, summed by kind (from its results' timings.json). */
  jobSecondsByKind: Record<string, number>;
  /** The inference engine line the cold run printed (absent before runs printed one). */
  inference: string | null;
  /** Heads and evaluations alone, per engine, reruns alternating between engines. */
  inferenceReruns: InferenceRerun[];
}

/** Seconds of the run's jobs summed by kind, from the results folder its output names. */
async function jobSecondsByKind(text: string): Promise<Record<string, number>> {
  const seconds: Record<string, number> = {};
  const folder = /^results: (.+)$/m.exec(text)?.[1];
  if (folder === undefined) return seconds;
  const timings = JSON.parse(await Deno.readTextFile(join(folder, "timings.json"))) as {
    jobs: { kind: string; status: string; runSeconds: number }[];
  };
  for (const { kind, runSeconds } of timings.jobs) {
    seconds[kind] = (seconds[kind] ?? 0) + runSeconds;
  }
  return seconds;
}

/**
 * The quickstart as a user runs it: cold on an empty cache, then fully cached, then its heads
 * and evaluations rerun on each of `engines` in turn (`--force head --force evaluate`).
 */
export async function benchQuickstart(
  options: { repeats: number; cli?: string; engines: string[] },
): Promise<QuickstartBench> {
  return await withPipelineRuns({ spec: QUICKSTART, cli: options.cli }, async (runs) => {
    const cold = await runs.runOnce();
    const cachedSeconds = await cachedRuns(runs, options.repeats);
    type Rerun = { seconds: number; text: string; byKind: Record<string, number> };
    const reruns = new Map<string, Rerun[]>();
    for (let i = 0; i < options.repeats; i++) {
      for (const engine of options.engines) {
        const flags = engine === "default" ? [] : ["--engine", engine];
        const rerun = await runs.runOnce([...flags, "--force", "head", "--force", "evaluate"]);
        // Read now: the next run replaces the results folder.
        const byKind = await jobSecondsByKind(rerun.text);
        reruns.set(engine, [...reruns.get(engine) ?? [], { ...rerun, byKind }]);
      }
    }
    const inferenceReruns: InferenceRerun[] = [];
    for (const [engine, done] of reruns) {
      const sorted = [...done].sort((a, b) => a.seconds - b.seconds);
      const middle = sorted[Math.floor(sorted.length / 2)]!;
      inferenceReruns.push({
        engine,
        seconds: done.map((rerun) => rerun.seconds),
        medianSeconds: middle.seconds,
        headSeconds: middle.byKind.head ?? 0,
        evaluateSeconds: middle.byKind.evaluate ?? 0,
        inference: /^inference: (.+)$/m.exec(middle.text)?.[1] ?? null,
      });
    }
    return {
      jobs: jobsRan(cold.text),
      coldSeconds: cold.seconds,
      cachedSeconds,
      medianSeconds: median(cachedSeconds),
      jobSecondsByKind: await jobSecondsByKind(cold.text),
      inference: /^inference: (.+)$/m.exec(cold.text)?.[1] ?? null,
      inferenceReruns,
    };
  });
}

/**
 * The 11-task pipeline over a weights folder and a data root (all 11 synthetic datasets in their
 * torchvision layouts): every cached run stats the weights and each dataset's files through the
 * state table.
 */
export async function benchCachedFolderPipeline(
  options: { repeats: number; cli?: string },
): Promise<CachedPipelineBench & { sourceFiles: number }> {
  const root = await Deno.makeTempDir({ prefix: "rankone-bench-folders-" });
  try {
    await writeWeightsFolder(`${root}/weights`, 0);
    await writeSyntheticMtil(`${root}/data`, {
      seed: 0,
      classesPerDataset: 3,
      imagesPerClass: 8,
      size: 32,
    });
    const spec = `${root}/eleven-tasks-folders.yaml`;
    await Deno.writeTextFile(
      spec,
      [
        "name: bench-eleven-tasks",
        `extends: [${ELEVEN_TASKS}]`,
        "model: { synthetic: null, weights: " + `${root}/weights }`,
        "benchmark: { synthetic: null, root: " + `${root}/data }`,
        "",
      ].join("\n"),
    );
    let sourceFiles = 0;
    for (const dir of [`${root}/weights`, `${root}/data`]) sourceFiles += countFiles(dir);
    return {
      ...await benchCachedPipeline({ repeats: options.repeats, spec, cli: options.cli }),
      sourceFiles,
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function countFiles(dir: string): number {
  let count = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isDirectory) count += countFiles(join(dir, entry.name));
    else if (entry.isFile) count++;
  }
  return count;
}

export interface HashingBench {
  files: number;
  bytes: number;
  /** First sight: every file read and hashed (written just before: from the page cache). */
  coldSeconds: number;
  coldFilesPerSecond: number;
  coldMBPerSecond: number;
  /** Loading the state table and statting every file, none hashed. */
  warmSeconds: number;
  stateTableLoadSeconds: number;
  stateTableBytes: number;
}

/** `files` small files (2-2.6 KB, 1000 per folder) hashed at first sight, then warm. */
export async function benchFirstSightHashing(options: { files: number }): Promise<HashingBench> {
  const root = await Deno.makeTempDir({ prefix: "rankone-bench-hash-" });
  try {
    const data = join(root, "data");
    let bytes = 0;
    for (let start = 0; start < options.files; start += 1000) {
      const folder = join(data, `class-${start / 1000}`);
      Deno.mkdirSync(folder, { recursive: true });
      for (let i = start; i < Math.min(options.files, start + 1000); i++) {
        const size = 2000 + (i % 7) * 100;
        Deno.writeFileSync(
          join(folder, `img-${i}.jpg`),
          crypto.getRandomValues(new Uint8Array(size)),
        );
        bytes += size;
      }
    }
    const paths = { stateDir: join(root, "state"), treesDir: join(root, "trees") };
    const spec = { path: data, depth: "tree" as const };
    let t0 = performance.now();
    const cold = new SourceHasher(paths);
    const first = await cold.digest(spec);
    await cold.save();
    const coldSeconds = (performance.now() - t0) / 1000;
    if (first.hashed !== options.files) throw new Error(`hashed ${first.hashed} files`);
    t0 = performance.now();
    await StateTable.load(paths.stateDir);
    const stateTableLoadSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const warm = await new SourceHasher(paths).digest(spec);
    const warmSeconds = (performance.now() - t0) / 1000;
    if (warm.hashed !== 0 || warm.digest !== first.digest) throw new Error("warm pass rehashed");
    let stateTableBytes = 0;
    for (const entry of Deno.readDirSync(paths.stateDir)) {
      stateTableBytes += Deno.statSync(join(paths.stateDir, entry.name)).size;
    }
    return {
      files: options.files,
      bytes,
      coldSeconds,
      coldFilesPerSecond: options.files / coldSeconds,
      coldMBPerSecond: bytes / MB / coldSeconds,
      warmSeconds,
      stateTableLoadSeconds,
      stateTableBytes,
    };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** One checkout's `deno task plan` runs. */
export interface PlanCommandRuns {
  label: string;
  /** The checkout's CLI entry point. */
  cli: string;
  /** Wall seconds of each whole process. */
  seconds: number[];
  medianSeconds: number;
  /** What the plan command loads (cli/main.ts, cli/plan.ts and their static imports). */
  localModules: number;
  npmPackages: number;
  /**
   * The packages only running a job needs (tensor, image, plotting libraries) that the project's
   * modules import, and how many such packages load with them.
   */
  runOnlyPackages: string[];
  runOnlyPackagesWithDependencies: number;
}

export interface PlanCommandBench {
  spec: string;
  jobs: number;
  /** Each checkout's runs; the checkouts take turns. */
  checkouts: PlanCommandRuns[];
  date: string;
  /** The machine is shared: its load (1, 5, 15 minutes) before the first run and after the last. */
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

/**
 * `deno task plan` on the 11-task pipeline as a whole process, for each of `checkouts` in turn,
 * `repeats` times after one untimed run each, on a private cache (the generated model and data:
 * no source to hash, nothing cached).
 */
export async function benchPlanCommand(
  options: { repeats: number; checkouts: { label: string; cli: string }[] },
): Promise<PlanCommandBench> {
  const cache = await Deno.makeTempDir({ prefix: "rankone-bench-plan-" });
  const loadAverageBefore = Deno.loadavg();
  const planOnce = async (cli: string) => {
    const { seconds, text } = await timeCommand(cli, ["plan", ELEVEN_TASKS], { cache });
    return { seconds, jobs: Number(/^(\d+) jobs/m.exec(text)?.[1] ?? NaN) };
  };
  try {
    // One untimed run each first: Deno's compile cache and the checkout's node_modules filled.
    for (const checkout of options.checkouts) await planOnce(checkout.cli);
    const seconds = options.checkouts.map((): number[] => []);
    let jobs = 0;
    for (let i = 0; i < options.repeats; i++) {
      for (const [c, checkout] of options.checkouts.entries()) {
        const once = await planOnce(checkout.cli);
        seconds[c]!.push(once.seconds);
        jobs = once.jobs;
      }
    }
    const loadAverageAfter = Deno.loadavg();
    const checkouts: PlanCommandRuns[] = [];
    for (const [c, checkout] of options.checkouts.entries()) {
      const repo = join(dirname(checkout.cli), "..", "..");
      const graph = await loadedGraph(
        [checkout.cli, join(dirname(checkout.cli), "plan.ts")],
        { repo },
      );
      checkouts.push({
        ...checkout,
        seconds: seconds[c]!,
        medianSeconds: median(seconds[c]!),
        localModules: graph.files.length,
        npmPackages: graph.packages.length,
        runOnlyPackages: graph.packages.filter((name) =>
          isRunOnlyPackage(name) && !isRunOnlyPackage(graph.chain(name).at(-2) ?? "")
        ),
        runOnlyPackagesWithDependencies: graph.packages.filter(isRunOnlyPackage).length,
      });
    }
    return {
      spec: "bench/pipelines/eleven-tasks.yaml",
      jobs,
      checkouts,
      date: new Date().toISOString(),
      loadAverageBefore,
      loadAverageAfter,
    };
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}

export interface ParallelBench {
  spec: string;
  set: string[];
  jobs: number;
  /** Wall seconds of each whole `deno task run` from an empty cache, one job at a time. */
  jobs1Seconds: number[];
  /** The same with `--jobs 2`. */
  jobs2Seconds: number[];
  /** Median of --jobs 2 over median of --jobs 1. */
  ratio: number;
  /** Whether the results of the two were the same, byte for byte (tests/ablations.ts). */
  identicalResults: boolean;
  cpus: number;
  date: string;
  /** The machine's load (1, 5, 15 minutes) when the last run ended. */
  loadAverage: number[];
}

/**
 * A matrix run from an empty cache with `--jobs 1` and `--jobs 2`, as whole processes, repeated
 * in turns so that both see the machine's load alike.
 */
export async function benchParallelLocal(
  options: { repeats: number; spec: string; set: string[] },
): Promise<ParallelBench> {
  const runOnce = (jobs: number) =>
    withPipelineRuns({ spec: options.spec }, async (runs) => {
      const { seconds, text } = await runs.runOnce([...options.set, "--jobs", String(jobs)]);
      return { seconds, jobs: jobsRan(text), files: await resultFiles(runs.results) };
    });
  const jobs1Seconds: number[] = [];
  const jobs2Seconds: number[] = [];
  let identicalResults = true;
  let jobs = 0;
  for (let i = 0; i < options.repeats; i++) {
    const one = await runOnce(1);
    const two = await runOnce(2);
    jobs1Seconds.push(one.seconds);
    jobs2Seconds.push(two.seconds);
    jobs = one.jobs;
    identicalResults &&= JSON.stringify(one.files) === JSON.stringify(two.files) &&
      Object.keys(one.files).length > 0;
  }
  return {
    spec: relative(fileURLToPath(new URL("..", import.meta.url)), options.spec),
    set: options.set,
    jobs,
    jobs1Seconds,
    jobs2Seconds,
    ratio: median(jobs2Seconds) / median(jobs1Seconds),
    identicalResults,
    cpus: navigator.hardwareConcurrency,
    date: new Date().toISOString(),
    loadAverage: Deno.loadavg(),
  };
}

/** The middle value; of an even count, the mean of the middle two (of 2 runs, not the slower). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const upper = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[upper]! : (sorted[upper - 1]! + sorted[upper]!) / 2;
}

/** The recorded figures this run replaces, kept in the new file as `previous`. */
async function previousFigures(path: string): Promise<unknown> {
  try {
    const old = JSON.parse(await Deno.readTextFile(path));
    return {
      date: old.date,
      cachedPipelineMedianSeconds: old.cachedPipeline?.medianSeconds ?? null,
      cachedFolderPipelineMedianSeconds: old.cachedFolderPipeline?.medianSeconds ?? null,
    };
  } catch {
    return null;
  }
}

/** The whole-process figures of a bench run's file, to compare with (`--baseline`). */
function baselineFigures(old: Record<string, { medianSeconds?: number; coldSeconds?: number }>) {
  return {
    date: (old as { date?: string }).date ?? null,
    loadAverage: (old as { loadAverage?: number[] }).loadAverage ?? null,
    cachedPipelineMedianSeconds: old.cachedPipeline?.medianSeconds ?? null,
    cachedPipelineColdSeconds: old.cachedPipeline?.coldSeconds ?? null,
    cachedFolderPipelineMedianSeconds: old.cachedFolderPipeline?.medianSeconds ?? null,
    quickstartColdSeconds: old.quickstart?.coldSeconds ?? null,
    quickstartCachedMedianSeconds: old.quickstart?.medianSeconds ?? null,
    quickstartJobSecondsByKind:
      (old.quickstart as { jobSecondsByKind?: unknown } | undefined)?.jobSecondsByKind ?? null,
    quickstartInferenceReruns:
      (old.quickstart as { inferenceReruns?: unknown } | undefined)?.inferenceReruns ?? null,
  };
}

/** The cases `--only` can name. */
const CASES = [
  "synthetic",
  "pipeline",
  "folders",
  "quickstart",
  "hashing",
  "plan",
  "parallel",
] as const;

const FIELD_OF_CASE = {
  synthetic: "syntheticGraph",
  pipeline: "cachedPipeline",
  folders: "cachedFolderPipeline",
  hashing: "firstSightHashing",
  quickstart: "quickstart",
  plan: "planCommand",
  parallel: "parallelLocal",
} as const;

/** The recorded file's figures, to keep those `--only` does not measure again. */
async function recordedFigures(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return {};
  }
}

/**
 * `deno task bench runner [--quick] [--scale S] [--files N] [--out FILE] [--cli PATH]
 * [--baseline FILE --baseline-label TEXT] [--only CASE,...] [--against PATH --against-label TEXT]`.
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      scale: { type: "string" },
      files: { type: "string" },
      out: { type: "string" },
      quick: { type: "boolean", default: false },
      cli: { type: "string" },
      baseline: { type: "string" },
      "baseline-label": { type: "string" },
      only: { type: "string" },
      against: { type: "string" },
      "against-label": { type: "string" },
    },
  });
  const scale = Number(values.scale ?? (values.quick ? "0.002" : "0.02"));
  const files = Number(values.files ?? (values.quick ? "2000" : "100000"));
  const repeats = values.quick ? 1 : 5;
  const only = values.only?.split(",") ?? [...CASES];
  const unknown = only.filter((name) => !(CASES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`--only: unknown case ${unknown.join(", ")}; expected ${CASES.join(", ")}`);
    return 2;
  }
  const recorded = fileURLToPath(new URL("../results/bench/runner.json", import.meta.url));
  // A quick smoke run never overwrites the recorded figures.
  const out = values.out ?? (values.quick ? null : recorded);
  const kept = values.only === undefined ? {} : await recordedFigures(recorded);
  const run = async <T>(name: typeof CASES[number], measure: () => Promise<T>) =>
    only.includes(name) ? await measure() : kept[FIELD_OF_CASE[name]];
  const cli = values.cli;
  // Another checkout's CLI may predate --engine: it reruns with its default only.
  const engines = cli === undefined ? ["default", "tfjs"] : ["default"];
  const planCheckouts = [
    { label: "this checkout", cli: cli ?? OWN_CLI },
    ...(values.against === undefined
      ? []
      : [{ label: values["against-label"] ?? values.against, cli: values.against }]),
  ];
  const figures = {
    cachedPipeline: await run("pipeline", () => benchCachedPipeline({ repeats, cli })),
    cachedFolderPipeline: await run("folders", () => benchCachedFolderPipeline({ repeats, cli })),
    quickstart: await run(
      "quickstart",
      () => benchQuickstart({ repeats: values.quick ? 1 : 3, cli, engines }),
    ),
    firstSightHashing: await run("hashing", () => benchFirstSightHashing({ files })),
    syntheticGraph: await run("synthetic", () => benchRunner({ scale })),
    planCommand: await run(
      "plan",
      () => benchPlanCommand({ repeats: values.quick ? 1 : 7, checkouts: planCheckouts }),
    ),
    // This checkout's CLI always: another one may predate --jobs.
    parallelLocal: await run("parallel", () =>
      benchParallelLocal({
        repeats: values.quick ? 1 : 2,
        spec: ABLATIONS,
        set: values.quick ? REDUCED : [],
      })),
  };
  const baseline = values.baseline === undefined ? null : {
    label: values["baseline-label"] ?? values.baseline,
    ...baselineFigures(JSON.parse(await Deno.readTextFile(values.baseline))),
  };
  const partial = values.only !== undefined;
  const text = JSON.stringify(
    {
      bench: "runner",
      // With --only: when the kept figures were measured (a new case may carry its own date).
      date: partial ? kept.date : new Date().toISOString(),
      deno: Deno.version.deno,
      // The machine is shared: its load over the last 1, 5 and 15 minutes when the run ended.
      loadAverage: partial ? kept.loadAverage : Deno.loadavg(),
      quick: values.quick,
      targetSeconds: 2,
      // Another checkout's CLI timed instead of this one's (a baseline run), else null.
      cli: cli ?? null,
      ...(partial ? { measuredAgain: only, measuredAgainAt: new Date().toISOString() } : {}),
      ...figures,
      previous: partial ? kept.previous : await previousFigures(recorded),
      baseline,
    },
    null,
    2,
  );
  console.log(text);
  if (out !== null) {
    const tmp = `${out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(tmp, `${text}\n`);
    await Deno.rename(tmp, out);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
