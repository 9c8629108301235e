/**
 * Jobs shared between the runs of a matrix sweep.
 */
import { canonicalJson } from "../cache/canonical_json.ts";
import { sha256Hex } from "../cache/digest.ts";
import type { Job } from "../cache/job.ts";
import { matrixPointName } from "../spec/point.ts";
import type { RunGraph } from "./build.ts";

/**
 * Merges the jobs of matrix runs that would compute the same thing (same kind, version, params
 * and, recursively, the same inputs): a sweep over methods loads the model, prepares the data and
 * evaluates zero-shot CLIP once. A job every run shares takes its plain id (`prepare/DTD`); one
 * only some runs share keeps the id of the first run that has it. The graphs given are left as
 * they are: `graphs` are copies whose job ids and reportId are the shared ones.
 */
export function shareJobs(graphs: readonly RunGraph[]): { jobs: Job[]; graphs: RunGraph[] } {
  const structural = new Map<string, string>(); // job id -> structural key
  const entries = new Map<string, { job: Job; baseId: string; runs: Set<number> }>();
  graphs.forEach((graph, run) => {
    const prefix = matrixPointName(graph.pipeline.matrixPoint);
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
    jobs.push({ ...job, id: finalId(key), inputs });
  }
  const shared = graphs.map((graph) => {
    const rename = new Map(graph.jobs.map((job) => [job.id, finalId(structural.get(job.id)!)]));
    return {
      ...graph,
      jobs: graph.jobs.map((job) => ({ ...job, id: rename.get(job.id)! })),
      reportId: rename.get(graph.reportId)!,
    };
  });
  return { jobs, graphs: shared };
}
