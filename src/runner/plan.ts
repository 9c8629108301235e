/**
 * planJobs: orders jobs (inputs first) and tells, for each, whether its artifact is cached or why
 * it must run. A job downstream of one that will run is "pending": its key depends on the content
 * digest its input will have, which is known only after that input has run.
 */
import { canonicalJson } from "../cache/canonical_json.ts";
import type { Job } from "../cache/job.ts";
import { jobKey, type KeyMaterial } from "../cache/key.ts";
import { diffJson, explainMiss } from "../cache/reason.ts";
import { type Artifact, CacheStore, type Verification } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import type { Plan, PlannedJob } from "./types.ts";

export interface PlanOptions {
  /** Job ids, kinds, or `*` globs over ids ("train/*", "*"): these run even when cached. */
  force?: string[];
  /** Defaults to `CacheStore.open()` (the project's cache, or $RANKONE_CACHE). */
  store?: CacheStore;
  /** "full" rehashes every cached file; "stamp" (default) trusts unchanged size, mtime, inode. */
  verify?: Verification;
}

/** A planned job, with the verified artifact kept for the runner when cached. */
export interface PlannedJobWithArtifact extends PlannedJob {
  artifact?: Artifact;
}

export async function planJobs(jobs: Job[], options: PlanOptions = {}): Promise<Plan> {
  const store = options.store ?? await CacheStore.open();
  const force = options.force ?? [];
  const ordered = topologicalOrder(jobs);
  const byId = new Map<string, PlannedJobWithArtifact>();
  const planned: PlannedJobWithArtifact[] = [];
  for (const job of ordered) {
    const forced = isForced(job, force);
    const entry = await planOne(job, byId, { store, forced, verify: options.verify });
    byId.set(job.id, entry);
    planned.push(entry);
  }
  return { store, jobs: planned, force };
}

async function planOne(
  job: Job,
  byId: Map<string, PlannedJobWithArtifact>,
  options: { store: CacheStore; forced: boolean; verify?: Verification },
): Promise<PlannedJobWithArtifact> {
  const { store, forced, verify } = options;
  const inputs: Record<string, string> = {};
  const waitingFor: string[] = [];
  for (const [name, upstreamId] of Object.entries(job.inputs)) {
    const upstream = byId.get(upstreamId);
    if (upstream?.status === "cached" && upstream.digest !== undefined) {
      inputs[name] = upstream.digest;
    } else if (!waitingFor.includes(upstreamId)) {
      waitingFor.push(upstreamId);
    }
  }
  if (waitingFor.length > 0) {
    const waits = `waits for ${waitingFor.join(", ")}`;
    if (forced) return { job, status: "pending", reason: "FORCED", detail: waits, waitingFor };
    // The key is unknown, but a changed version or params is already certain to matter.
    const previous = await store.readIndex(job.kind, job.id);
    if (previous !== null && previous.version !== job.version) {
      const detail = `${job.kind} stage version ${previous.version} -> ${job.version}; ${waits}`;
      return { job, status: "pending", reason: "VERSION", detail, waitingFor };
    }
    const changes = previous === null ? [] : diffJson(previous.params, job.params);
    if (changes.length > 0) {
      const detail = `${changes.slice(0, 3).join(", ")}; ${waits}`;
      return { job, status: "pending", reason: "PARAMS", detail, waitingFor };
    }
    return { job, status: "pending", detail: waits, waitingFor };
  }
  const material: KeyMaterial = {
    kind: job.kind,
    version: job.version,
    params: job.params,
    inputs,
  };
  const key = jobKey(material, `job ${job.id} params`);
  if (forced) {
    return { job, status: "run", reason: "FORCED", detail: "forced", key, waitingFor };
  }
  const lookup = await store.lookup(key, { verify });
  if (lookup.found) {
    const artifact = lookup.artifact;
    const digest = artifact.manifest.digest;
    return { job, status: "cached", detail: "cached", key, digest, waitingFor, artifact };
  }
  const previous = await store.readIndex(job.kind, job.id);
  const { reason, detail } = explainMiss(previous, material, { problem: lookup.problem });
  return { job, status: "run", reason, detail, key, waitingFor };
}

/** True when a `force` pattern names this job: its id, its kind, or a `*` glob over its id. */
export function isForced(job: Job, patterns: string[]): boolean {
  return patterns.some((pattern) => {
    if (pattern === job.id || pattern === job.kind) return true;
    if (!pattern.includes("*")) return false;
    const escaped = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${escaped.join(".*")}$`).test(job.id);
  });
}

/**
 * Jobs ordered so every input comes before its users; among ready jobs the given order wins, so
 * the order is stable. Duplicate ids, unknown inputs and cycles are errors.
 */
export function topologicalOrder(jobs: Job[]): Job[] {
  const byId = new Map<string, Job>();
  for (const job of jobs) {
    if (byId.has(job.id)) throw new UserError(`Job id "${job.id}" is used twice`);
    if (!Number.isInteger(job.version)) {
      throw new UserError(`Job ${job.id}: version ${job.version} is not an integer`);
    }
    canonicalJson(job.params, `job ${job.id} params`);
    byId.set(job.id, job);
  }
  for (const job of jobs) {
    for (const [name, upstream] of Object.entries(job.inputs)) {
      if (!byId.has(upstream)) {
        throw new UserError(`Job ${job.id}: input "${name}" names unknown job "${upstream}"`);
      }
    }
  }
  const position = new Map(jobs.map((job, i) => [job.id, i]));
  const state = new Map<string, "visiting" | "done">();
  const ordered: Job[] = [];
  // Depth-first from each job in the given order, inputs visited in given-order too.
  const visit = (job: Job, trail: string[]): void => {
    const seen = state.get(job.id);
    if (seen === "done") return;
    if (seen === "visiting") {
      // Printed in data-flow order: each job feeds the next.
      const cycle = [...trail.slice(trail.indexOf(job.id)), job.id].reverse();
      throw new UserError(`Jobs form a cycle: ${cycle.join(" -> ")}`);
    }
    state.set(job.id, "visiting");
    const upstream = [...new Set(Object.values(job.inputs))]
      .sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
    for (const id of upstream) visit(byId.get(id)!, [...trail, job.id]);
    state.set(job.id, "done");
    ordered.push(job);
  };
  for (const job of jobs) visit(job, []);
  return ordered;
}
