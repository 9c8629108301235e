/** The flags `run` and `plan` share: the spec file, `--set`, `--var`, `--force`, `--verify`. */
import { parseArgs } from "node:util";
import type { PipelineRequest } from "../runner/pipeline.ts";

export interface PipelineFlags extends PipelineRequest {
  until?: string;
  backend?: string;
  engine?: string;
  device?: string;
  results?: string;
  executor?: string;
  jobs?: string;
  maxJobs?: string;
  slurmPartition?: string;
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
    engine: values.engine as string | undefined,
    device: values.device as string | undefined,
    results: values.results as string | undefined,
    executor: values.executor as string | undefined,
    jobs: values.jobs as string | undefined,
    maxJobs: values["max-jobs"] as string | undefined,
    slurmPartition: values["slurm-partition"] as string | undefined,
    verify: values.verify === true,
  };
}
