/**
 * Where an ONNX Runtime session spends its time, by operator, from ORT's own profiler (the
 * kernel times it records per node): shares of the total, which a machine's load changes far
 * less than it changes wall-clock figures.
 */
import { type OrtModule, type OrtTensor, sessionOptions } from "../src/clip/onnx/runtime.ts";

export interface OpShare {
  /** The operator after ORT's graph optimisations (QuickGelu: its fusion of x * sigmoid(a x)). */
  op: string;
  /** Nodes of this operator in one run. */
  nodes: number;
  /** Milliseconds per run, summed over its nodes. */
  milliseconds: number;
  /** Fraction of all kernel time. */
  share: number;
}

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args: { op_name?: string };
}

/** Sums a profile's node kernel times by operator over every run after the first (warm-up). */
export function opShares(events: ProfileEvent[]): OpShare[] {
  const runs = events.filter((event) => event.cat === "Session" && event.name === "model_run");
  if (runs.length < 2) throw new Error(`ORT profile: ${runs.length} runs, need a warm-up and one`);
  const warmUpEnd = runs[0]!.ts + runs[0]!.dur;
  const byOp = new Map<string, { microseconds: number; nodes: number }>();
  let total = 0;
  for (const event of events) {
    if (event.cat !== "Node" || !event.name.endsWith("_kernel_time") || event.ts <= warmUpEnd) {
      continue;
    }
    const op = event.args.op_name ?? event.name;
    const entry = byOp.get(op) ?? { microseconds: 0, nodes: 0 };
    entry.microseconds += event.dur;
    entry.nodes++;
    byOp.set(op, entry);
    total += event.dur;
  }
  const measured = runs.length - 1;
  return [...byOp].map(([op, { microseconds, nodes }]) => ({
    op,
    nodes: nodes / measured,
    milliseconds: microseconds / measured / 1000,
    share: microseconds / total,
  })).sort((a, b) => b.milliseconds - a.milliseconds);
}

/** Profiles `runs` runs of `model` on ORT's CPU provider (after one warm-up run). */
export async function profileOrtCpu(
  ort: OrtModule,
  model: Uint8Array,
  options: { feeds: Record<string, OrtTensor>; runs: number },
): Promise<OpShare[]> {
  const dir = await Deno.makeTempDir({ prefix: "ort-profile-" });
  try {
    const session = await ort.InferenceSession.create(model, {
      ...sessionOptions("cpu"),
      enableProfiling: true,
      profileFilePrefix: `${dir}/session`,
    });
    try {
      for (let run = 0; run <= options.runs; run++) await session.run(options.feeds);
    } finally {
      session.endProfiling();
      await session.release();
    }
    const [file] = [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".json"));
    if (file === undefined) throw new Error(`ORT wrote no profile into ${dir}`);
    return opShares(JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
