/**
 * What `run` and `plan` share: their flags, compiling the spec into runs, building every run's
 * jobs into one graph (matrix runs share jobs whose keys are equal, so a sweep trains each
 * distinct prefix once), and planning it against the cache.
 */
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";
import { buildRunGraph, type RunGraph } from "../plan/build.ts";
import { planJobs } from "../runner/plan.ts";
import type { Plan } from "../runner/types.ts";
import { compileSpec } from "../spec/mod.ts";
import type { Job } from "../cache/job.ts";
import { canonicalJson } from "../cache/canonical_json.ts";
import { sha256Hex } from "../cache/digest.ts";

export interface PipelineFlags {
  file: string;
  set: string[];
  vars: Record<string, string>;
  force: string[];
  until?: string;
  backend?: string;
  results?: string;
  verify: boolean;
}

export const PIPELINE_OPTIONS = {
  set: { type: "string", multiple: true },
  var: { type: "string", multiple: true },
  force: { type: "string", multiple: true },
  verify: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses `FILE [--set a.b=c]... [--var NAME=value]... [--force STAGE]...` plus `extra` flags. */
export function parsePipelineArgs<Extra extends Record<string, { type: "string" | "boolean" }>>(
  args: string[],
  options: { usage: string; extra: Extra },
): PipelineFlags | number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...PIPELINE_OPTIONS, ...options.extra },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${options.usage}`);
    return 2;
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help === true) {
    console.log(options.usage);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    console.error(`expected one pipeline file\n${options.usage}`);
    return 2;
  }
  const vars: Record<string, string> = {};
  for (const pair of (values.var as string[] | undefined) ?? []) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      console.error(`--var ${pair}: expected NAME=value\n${options.usage}`);
      return 2;
    }
    vars[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    file: parsed.positionals[0]!,
    set: (values.set as string[] | undefined) ?? [],
    vars,
    force: (values.force as string[] | undefined) ?? [],
    until: values.until as string | undefined,
    backend: values.backend as string | undefined,
    results: values.results as string | undefined,
    verify: values.verify === true,
  };
}

/** A run's folder name under results/<pipeline>/: its matrix point, or `default`. */
export function runSlug(graph: RunGraph): string {
  const point = graph.pipeline.runName.slice(graph.pipeline.name.length + 1);
  return point === "" ? "default" : point.replace(/[^A-Za-z0-9._=,+-]+/g, "_");
}

export interface CompiledPlan {
  graphs: RunGraph[];
  plan: Plan;
}

export async function compileAndPlan(flags: PipelineFlags): Promise<CompiledPlan> {
  try {
    await Deno.stat(flags.file);
  } catch {
    throw new UserError(`Cannot read pipeline ${flags.file}: no such file`, { exitCode: 2 });
  }
  const compiled = compileSpec(flags.file, { set: flags.set, vars: flags.vars, cwd: Deno.cwd() });
  const matrix = compiled.runs.length > 1;
  const graphs: RunGraph[] = [];
  for (const pipeline of compiled.runs) {
    const prefix = matrix ? pipeline.runName.slice(pipeline.name.length + 1) : undefined;
    graphs.push(await buildRunGraph(pipeline, { prefix }));
  }
  const jobs = shareJobs(graphs);
  const plan = await planJobs(jobs, {
    force: flags.force,
    verify: flags.verify ? "full" : undefined,
  });
  return { graphs, plan };
}

/**
 * Merges the jobs of matrix runs that would compute the same thing (same kind, version, params
 * and, recursively, the same inputs): a sweep over methods loads the model, prepares the data and
 * evaluates zero-shot CLIP once. A job every run shares takes its plain id (`prepare/DTD`); one
 * only some runs share keeps the id of the first run that has it. Updates each graph's reportId.
 */
export function shareJobs(graphs: RunGraph[]): Job[] {
  const structural = new Map<string, string>(); // job id -> structural key
  const entries = new Map<string, { job: Job; baseId: string; runs: Set<number> }>();
  graphs.forEach((graph, run) => {
    const prefix = graph.pipeline.runName.slice(graph.pipeline.name.length + 1);
    for (const job of graph.jobs) {
      const inputs = Object.fromEntries(
        Object.entries(job.inputs).map(([name, id]) => [name, structural.get(id) ?? id]),
      );
      const key = sha256Hex(canonicalJson({
        kind: job.kind,
        version: job.version,
        params: job.params,
        inputs,
      }));
      structural.set(job.id, key);
      const entry = entries.get(key);
      if (entry === undefined) {
        const baseId = prefix !== "" && job.id.startsWith(`${prefix}/`)
          ? job.id.slice(prefix.length + 1)
          : job.id;
        entries.set(key, { job, baseId, runs: new Set([run]) });
      } else {
        entry.runs.add(run);
      }
    }
  });
  const finalId = (key: string): string => {
    const entry = entries.get(key)!;
    return graphs.length > 1 && entry.runs.size === graphs.length ? entry.baseId : entry.job.id;
  };
  const jobs: Job[] = [];
  for (const [key, { job }] of entries) {
    const inputs = Object.fromEntries(
      Object.entries(job.inputs).map(([name, id]) => [name, finalId(structural.get(id)!)]),
    );
    jobs.push({ ...job, id: finalId(key), inputs, run: job.run });
  }
  for (const graph of graphs) {
    const rename = new Map(graph.jobs.map((job) => [job.id, finalId(structural.get(job.id)!)]));
    graph.jobs = graph.jobs.map((job) => ({ ...job, id: rename.get(job.id)! }));
    graph.reportId = rename.get(graph.reportId)!;
  }
  return jobs;
}
