/** A job's context for running one stage in a test: no progress, no log, never aborted. */
import type { InputArtifact, JobContext, JobResources } from "../src/cache/job.ts";

export function quietJobContext(
  id: string,
  options: {
    outDir: string;
    resources: JobResources;
    inputs?: Record<string, InputArtifact>;
    inference?: JobContext["machine"]["inference"];
  },
): JobContext {
  return {
    id,
    inputs: options.inputs ?? {},
    sources: {},
    outDir: options.outDir,
    progress() {},
    log() {},
    signal: new AbortController().signal,
    machine: { backend: null, inference: options.inference ?? null },
    resources: options.resources,
    recordStats() {},
  };
}
