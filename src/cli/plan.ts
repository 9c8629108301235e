/**
 * `deno task plan FILE [--set a.b=c] [--var N=v] [--force STAGE] [--verify]`: the jobs a pipeline
 * needs, in order, each either cached or to run with its reason (MISSING, PARAMS, INPUT, VERSION,
 * FORCED) and what changed ("lr: 0.001 -> 0.002", "data changed, 3 files"). Runs nothing and
 * writes nothing but the cache's bookkeeping (the state table of hashed source files, so the
 * run that follows does not hash them again). `--verify` checks artifacts exactly as
 * `run --verify` does.
 */
import { compileAndPlan } from "../runner/pipeline.ts";
import { parsePipelineArgs } from "./pipeline.ts";
import { createHashProgress } from "./progress.ts";

const USAGE = "usage: deno task plan FILE [--set a.b=value]... [--var NAME=value]... " +
  "[--force ID|KIND|GLOB]... [--verify] [--debug]";

export async function main(args: string[]): Promise<number> {
  const flags = parsePipelineArgs(args, { usage: USAGE, extra: {} });
  if (typeof flags === "number") return flags;
  const { graphs, plan } = await compileAndPlan(flags, { onHashProgress: createHashProgress() });
  const width = Math.max(...plan.jobs.map((p) => p.job.id.length));
  let toRun = 0;
  for (const planned of plan.jobs) {
    const status = planned.status === "cached"
      ? "cached  "
      : planned.status === "run"
      ? `run ${(planned.reason ?? "").padEnd(4)}`
      : "pending ";
    if (planned.status !== "cached") toRun++;
    const detail = planned.status === "cached" || planned.detail === ""
      ? ""
      : `  ${shorten(planned.detail)}`;
    console.log(`${status.padEnd(13)} ${planned.job.id.padEnd(width)}${detail}`);
  }
  const runs = graphs.length === 1 ? "1 run" : `${graphs.length} runs`;
  console.log(
    `\n${plan.jobs.length} jobs (${runs}): ${plan.jobs.length - toRun} cached, ${toRun} to run` +
      ` or decide after their inputs; cache ${plan.store.root}`,
  );
  return 0;
}

/** "waits for a, b, c, d, e, f" -> "waits for a, b, c, d and 2 more": one line per job. */
function shorten(detail: string): string {
  return detail.replace(/(waits for )([^;]+)/, (_, lead: string, list: string) => {
    const ids = list.split(", ");
    return ids.length <= 4
      ? lead + list
      : `${lead}${ids.slice(0, 4).join(", ")} and ${ids.length - 4} more`;
  });
}
