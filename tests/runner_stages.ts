/**
 * Small real stages for the runner tests: each reads its inputs' .npy/.json files and writes new
 * ones, so digests, reruns and propagation are exercised on actual bytes.
 *
 *   generate (seed, n) -> x.npy            pseudo-random float32 in [0, 1)
 *   scale (factor)     -> y.npy = x * factor
 *   quantize (step)    -> q.npy = round(y / step) * step   (small changes to y give the same bytes)
 *   summarize          -> summary.json { sum, count } of q
 *   stats              -> stats.json { min, max } of x
 */
import { join } from "node:path";
import type { Job, JobContext } from "../src/cache/job.ts";
import { readNpy, writeNpy } from "../src/io/npy.ts";

export interface PipelineOptions {
  seed?: number;
  n?: number;
  factor?: number;
  step?: number;
  /** Milliseconds the scale job takes, in 10 progress steps that check ctx.signal. */
  scaleDelayMs?: number;
  versions?: Partial<Record<string, number>>;
  /** Called with the job id each time a job's run starts. */
  onRun?: (id: string) => void;
}

export function pipeline(options: PipelineOptions = {}): Job[] {
  const { seed = 1, n = 64, factor = 2, step = 0.5, scaleDelayMs = 0 } = options;
  const version = (kind: string) => options.versions?.[kind] ?? 1;
  const started = (ctx: JobContext) => options.onRun?.(ctx.id);
  return [
    {
      id: "generate/x",
      kind: "generate",
      version: version("generate"),
      params: { seed, n },
      inputs: {},
      async run(ctx) {
        started(ctx);
        const data = new Float32Array(n);
        let state = seed >>> 0;
        for (let i = 0; i < n; i++) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // LCG (Numerical Recipes)
          data[i] = state / 2 ** 32;
        }
        await writeNpy(join(ctx.outDir, "x.npy"), { dtype: "float32", shape: [n], data });
        ctx.log(`wrote ${n} values`);
      },
    },
    {
      id: "scale/y",
      kind: "scale",
      version: version("scale"),
      params: { factor },
      inputs: { x: "generate/x" },
      async run(ctx) {
        started(ctx);
        const x = await readFloat32(join(ctx.inputs.x!.dir, "x.npy"));
        for (let step = 1; step <= 10; step++) {
          if (scaleDelayMs > 0) await new Promise((done) => setTimeout(done, scaleDelayMs / 10));
          ctx.signal.throwIfAborted();
          ctx.progress(step, 10, "scaling");
        }
        const data = x.map((v) => v * factor);
        await writeNpy(join(ctx.outDir, "y.npy"), { dtype: "float32", shape: [x.length], data });
      },
    },
    {
      id: "quantize/q",
      kind: "quantize",
      version: version("quantize"),
      params: { step },
      inputs: { y: "scale/y" },
      async run(ctx) {
        started(ctx);
        const y = await readFloat32(join(ctx.inputs.y!.dir, "y.npy"));
        const data = y.map((v) => Math.round(v / step) * step);
        await writeNpy(join(ctx.outDir, "q.npy"), { dtype: "float32", shape: [y.length], data });
      },
    },
    {
      id: "summarize/q",
      kind: "summarize",
      version: version("summarize"),
      params: {},
      inputs: { q: "quantize/q" },
      async run(ctx) {
        started(ctx);
        const q = await readFloat32(join(ctx.inputs.q!.dir, "q.npy"));
        const sum = q.reduce((a, b) => a + b, 0);
        await Deno.writeTextFile(
          join(ctx.outDir, "summary.json"),
          JSON.stringify({ sum, count: q.length }),
        );
      },
    },
    {
      id: "stats/x",
      kind: "stats",
      version: version("stats"),
      params: {},
      inputs: { x: "generate/x" },
      async run(ctx) {
        started(ctx);
        const x = await readFloat32(join(ctx.inputs.x!.dir, "x.npy"));
        const stats = { min: Math.min(...x), max: Math.max(...x) };
        await Deno.mkdir(join(ctx.outDir, "nested"));
        await Deno.writeTextFile(join(ctx.outDir, "nested", "stats.json"), JSON.stringify(stats));
      },
    },
  ];
}

async function readFloat32(path: string): Promise<Float32Array> {
  const array = await readNpy(path);
  if (array.dtype !== "float32") throw new Error(`${path}: expected float32`);
  return array.data;
}
