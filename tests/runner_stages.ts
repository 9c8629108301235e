/**
 * Small real stages for the runner tests: each reads its inputs' .npy/.json files and writes new
 * ones, so digests, reruns and propagation are exercised on actual bytes.
 *
 *   generate (seed, n) -> x.npy            pseudo-random float32 in [0, 1)
 *   scale (factor)     -> y.npy = x * factor
 *   quantize (step)    -> q.npy = round(y / step) * step   (small changes to y give the same bytes)
 *   summarize          -> summary.json { sum, count } of q
 *   stats              -> stats.json { min, max } of x
 *   count (root)       -> count.json { files, bytes } of the folder `root` (a source)
 *
 * `pipeline()` gives the jobs (plain data); `testStages()` the registry that runs them, with
 * hooks a test uses to watch or slow them down.
 */
import { join } from "node:path";
import type { Job, JobContext, StageRegistry, StageRunner } from "../src/cache/job.ts";
import { readNpy, writeNpy } from "../src/io/npy.ts";

export interface PipelineOptions {
  seed?: number;
  n?: number;
  factor?: number;
  step?: number;
  versions?: Partial<Record<string, number>>;
}

export interface StageHooks {
  /** Milliseconds the scale job takes, in 10 progress steps that check ctx.signal. */
  scaleDelayMs?: number;
  /** The scale job ignores ctx.signal (a stage that never checks it). */
  scaleIgnoresAbort?: boolean;
  /** The scale job then computes synchronously this long (a step that never yields). */
  scaleBusyMs?: number;
  /** Added to every generated value: output that changed while the key did not. */
  generateOffset?: number;
  /** Runs inside the count job, after it read its folder (to change the folder meanwhile). */
  duringCount?: () => Promise<void>;
  versions?: Partial<Record<string, number>>;
  /** Called with the job id each time a job's run starts. */
  onRun?: (id: string) => void;
  /** Replaces a kind's run (a failing stage). */
  replace?: Partial<Record<string, StageRunner["run"]>>;
}

export function pipeline(options: PipelineOptions = {}): Job[] {
  const { seed = 1, n = 64, factor = 2, step = 0.5 } = options;
  const version = (kind: string) => options.versions?.[kind] ?? 1;
  const job = (
    id: string,
    kind: string,
    params: Job["params"],
    inputs: Record<string, string>,
  ) => ({
    id,
    kind,
    version: version(kind),
    params,
    inputs,
    sources: {},
  });
  return [
    job("generate/x", "generate", { seed, n }, {}),
    job("scale/y", "scale", { factor }, { x: "generate/x" }),
    job("quantize/q", "quantize", { step }, { y: "scale/y" }),
    job("summarize/q", "summarize", {}, { q: "quantize/q" }),
    job("stats/x", "stats", {}, { x: "generate/x" }),
  ];
}

/** A job counting the files of `root`, which it declares as its source. */
export function countJob(root: string): Job {
  return {
    id: "count/files",
    kind: "count",
    version: 1,
    params: { root },
    inputs: {},
    sources: { data: { path: root, depth: "tree" } },
  };
}

type Params = Record<string, number>;

const RUNS: Record<string, (ctx: JobContext, params: Params, hooks: StageHooks) => Promise<void>> =
  {
    async generate(ctx, { seed, n }, hooks) {
      const data = new Float32Array(n!);
      let state = seed! >>> 0;
      for (let i = 0; i < n!; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // LCG (Numerical Recipes)
        data[i] = state / 2 ** 32 + (hooks.generateOffset ?? 0);
      }
      await writeNpy(join(ctx.outDir, "x.npy"), { dtype: "float32", shape: [n!], data });
      ctx.log(`wrote ${n} values`);
    },
    async scale(ctx, { factor }, hooks) {
      const x = await readFloat32(join(ctx.inputs.x!.dir, "x.npy"));
      const delay = hooks.scaleDelayMs ?? 0;
      for (let step = 1; step <= 10; step++) {
        if (delay > 0) await new Promise((done) => setTimeout(done, delay / 10));
        if (!hooks.scaleIgnoresAbort) ctx.signal.throwIfAborted();
        ctx.progress(step, 10, "scaling");
      }
      const busyUntil = performance.now() + (hooks.scaleBusyMs ?? 0);
      while (performance.now() < busyUntil) {
        // One long synchronous computation.
      }
      const data = x.map((v) => v * factor!);
      await writeNpy(join(ctx.outDir, "y.npy"), { dtype: "float32", shape: [x.length], data });
    },
    async quantize(ctx, { step }) {
      const y = await readFloat32(join(ctx.inputs.y!.dir, "y.npy"));
      const data = y.map((v) => Math.round(v / step!) * step!);
      await writeNpy(join(ctx.outDir, "q.npy"), { dtype: "float32", shape: [y.length], data });
    },
    async summarize(ctx) {
      const q = await readFloat32(join(ctx.inputs.q!.dir, "q.npy"));
      const sum = q.reduce((a, b) => a + b, 0);
      await Deno.writeTextFile(
        join(ctx.outDir, "summary.json"),
        JSON.stringify({ sum, count: q.length }),
      );
    },
    async count(ctx, params, hooks) {
      const { root } = params as unknown as { root: string };
      let files = 0;
      let bytes = 0;
      for (const entry of Deno.readDirSync(root)) {
        if (!entry.isFile) continue;
        files++;
        bytes += Deno.statSync(join(root, entry.name)).size;
      }
      await hooks.duringCount?.();
      await Deno.writeTextFile(join(ctx.outDir, "count.json"), JSON.stringify({ files, bytes }));
    },
    async stats(ctx) {
      const x = await readFloat32(join(ctx.inputs.x!.dir, "x.npy"));
      const stats = { min: Math.min(...x), max: Math.max(...x) };
      await Deno.mkdir(join(ctx.outDir, "nested"));
      await Deno.writeTextFile(join(ctx.outDir, "nested", "stats.json"), JSON.stringify(stats));
    },
  };

/** The registry running the test pipeline's kinds. */
export function testStages(hooks: StageHooks = {}): StageRegistry {
  return Object.fromEntries(
    Object.entries(RUNS).map(([kind, run]) => {
      const runner: StageRunner = {
        kind,
        versionOf: () => hooks.versions?.[kind] ?? 1,
        run: hooks.replace?.[kind] ?? ((ctx, params) => {
          hooks.onRun?.(ctx.id);
          return run(ctx, params as Params, hooks);
        }),
      };
      return [kind, runner];
    }),
  );
}

async function readFloat32(path: string): Promise<Float32Array> {
  const array = await readNpy(path);
  if (array.dtype !== "float32") throw new Error(`${path}: expected float32`);
  return array.data;
}
