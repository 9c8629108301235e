/**
 * jobStatuses: the cache status of built jobs (src/plan builds them; this checks them against the
 * cache). It orders jobs (inputs first) and tells, for each, whether its artifact is cached or why
 * it must run. A job's sources (files outside the cache) are hashed first, through the cache's
 * state table, so only files whose stamp changed are read. A job downstream of one that will run
 * is "pending": its key depends on the content digest its input will have, which is known only
 * after that input has run.
 */
import { canonicalJson } from "../cache/canonical_json.ts";
import type { Job, StageRegistry } from "../cache/job.ts";
import { jobKey, type KeyMaterial } from "../cache/key.ts";
import type { RunLease } from "../cache/lock.ts";
import { changedNames, diffJson, explainMiss } from "../cache/reason.ts";
import type { HashProgress, SourceDigest } from "../cache/sources.ts";
import { writeJobRecord } from "../cache/record.ts";
import { CacheStore, type IndexEntry, type Lookup, type Verification } from "../cache/store.ts";
import { UserError } from "../errors.ts";
import type { Plan, PlannedJob } from "./types.ts";

export interface PlanOptions {
  /** Job ids, kinds, or `*` globs over ids ("train/*", "*"): these run even when cached. */
  force?: string[];
  /** Defaults to `CacheStore.open()` (the project's cache, or $RANKONE_CACHE). */
  store?: CacheStore;
  /** "full" rehashes every cached file; "stamp" (default) trusts unchanged size, mtime, inode. */
  verify?: Verification;
  /** How jobs are executed, by kind: checks each job's kind and version, and is kept to run. */
  stages?: StageRegistry;
  /** Registers every key the plan looks at before looking, so `cache gc` keeps them. */
  lease?: RunLease;
  /** Progress of hashing sources seen for the first time (a large data root takes a while). */
  onHashProgress?: (progress: HashProgress) => void;
  /** Stops hashing sources (Ctrl-C during a long first hash); what was hashed is kept. */
  signal?: AbortSignal;
}

export async function jobStatuses(jobs: Job[], options: PlanOptions = {}): Promise<Plan> {
  const store = options.store ?? await CacheStore.open();
  const force = options.force ?? [];
  const ordered = topologicalOrder(jobs);
  if (options.stages !== undefined) checkStages(ordered, options.stages);
  const plan: Plan = {
    store,
    jobs: [],
    force,
    verify: options.verify ?? "stamp",
    verdicts: new Map(),
    stages: options.stages,
    lease: options.lease,
  };
  const byId = new Map<string, PlannedJob>();
  const memo = new Map<string, Promise<SourceDigest>>();
  try {
    for (const job of ordered) {
      const forced = isForced(job, force);
      const entry = await planOne(job, byId, { plan, options, forced, memo });
      byId.set(job.id, entry);
      plan.jobs.push(entry);
    }
  } finally {
    await store.sources.save();
  }
  return plan;
}

/** Each job's kind must be known, and its version the one the stage gives its params. */
function checkStages(jobs: Job[], stages: StageRegistry): void {
  for (const job of jobs) {
    const stage = stages[job.kind];
    if (stage === undefined) throw new Error(`Job ${job.id}: no stage of kind "${job.kind}"`);
    const version = stage.versionOf(job.params);
    if (version !== job.version) {
      throw new Error(`Job ${job.id}: version ${job.version}, its stage says ${version}`);
    }
  }
}

/**
 * The content digest of each of `job`'s sources, hashed now; with `memo` (one per plan), each
 * source is hashed once for all the jobs that read it.
 */
export async function sourceDigests(
  store: CacheStore,
  job: Job,
  options: {
    onProgress?: (progress: HashProgress) => void;
    signal?: AbortSignal;
    memo?: Map<string, Promise<SourceDigest>>;
  } = {},
): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  for (const [name, spec] of Object.entries(job.sources)) {
    const id = `${spec.depth}:${spec.path}`;
    let found = options.memo?.get(id);
    if (found === undefined) {
      found = store.sources.digest(spec, options);
      options.memo?.set(id, found);
    }
    digests[name] = (await found).digest;
  }
  return digests;
}

/**
 * The artifact under `key`, verified as the plan verifies; each key is verified once per plan,
 * and the runner sees the same verdict.
 */
export async function lookupOnce(plan: Plan, key: string): Promise<Lookup> {
  let found = plan.verdicts.get(key);
  if (found === undefined) {
    plan.lease?.register([key]);
    found = await plan.store.lookup(key, { verify: plan.verify });
    plan.verdicts.set(key, found);
  }
  return found;
}

/** How many files changed in each source whose digest differs from the index entry's. */
export async function changedSourceFiles(
  store: CacheStore,
  previous: IndexEntry | null,
  sources: Record<string, string>,
): Promise<Record<string, number | null>> {
  const counts: Record<string, number | null> = {};
  if (previous === null) return counts;
  for (const name of changedNames(previous.sources ?? {}, sources)) {
    const before = previous.sources?.[name];
    const after = sources[name];
    counts[name] = before === undefined || after === undefined
      ? null
      : await store.sources.changedFiles(before, after);
  }
  return counts;
}

async function planOne(
  job: Job,
  byId: Map<string, PlannedJob>,
  context: {
    plan: Plan;
    options: PlanOptions;
    forced: boolean;
    memo: Map<string, Promise<SourceDigest>>;
  },
): Promise<PlannedJob> {
  const { plan, options, forced, memo } = context;
  const store = plan.store;
  const sources = await sourceDigests(store, job, {
    onProgress: options.onHashProgress,
    signal: options.signal,
    memo,
  });
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
  const base = { job, sources, waitingFor };
  if (waitingFor.length > 0) {
    const waits = `waits for ${waitingFor.join(", ")}`;
    if (forced) return { ...base, status: "pending", reason: "FORCED", detail: waits };
    // The key is unknown, but a changed version, params or source is already certain to matter.
    const previous = await store.readIndex(job.kind, job.id);
    if (previous !== null && previous.version !== job.version) {
      const detail = `${job.kind} stage version ${previous.version} -> ${job.version}; ${waits}`;
      return { ...base, status: "pending", reason: "VERSION", detail };
    }
    const changes = previous === null ? [] : diffJson(previous.params, job.params);
    if (changes.length > 0) {
      const detail = `${changes.slice(0, 3).join(", ")}; ${waits}`;
      return { ...base, status: "pending", reason: "PARAMS", detail };
    }
    const changedFiles = await changedSourceFiles(store, previous, sources);
    if (Object.keys(changedFiles).length > 0) {
      const material = {
        kind: job.kind,
        version: job.version,
        params: job.params,
        inputs: {},
        sources,
      };
      const explained = explainMiss(
        { ...previous!, inputs: {} },
        material,
        { changedFiles },
      );
      return {
        ...base,
        status: "pending",
        reason: "INPUT",
        detail: `${explained.detail}; ${waits}`,
      };
    }
    return { ...base, status: "pending", detail: waits };
  }
  const material: KeyMaterial = {
    kind: job.kind,
    version: job.version,
    params: job.params,
    inputs,
    sources,
  };
  const key = jobKey(material, `job ${job.id} params`);
  // A job that will run gets its record now: another process can start it from the plan alone.
  const record = () => writeJobRecord(store, job, { key, inputs: inputsAt(job, byId), sources });
  if (forced) {
    plan.lease?.register([key]);
    await record();
    return { ...base, status: "run", reason: "FORCED", detail: "forced", key };
  }
  const lookup = await lookupOnce(plan, key);
  if (lookup.found) {
    const artifact = lookup.artifact;
    const digest = artifact.manifest.digest;
    return { ...base, status: "cached", detail: "cached", key, digest, artifact };
  }
  const previous = await store.readIndex(job.kind, job.id);
  const changedFiles = await changedSourceFiles(store, previous, sources);
  const { reason, detail } = explainMiss(previous, material, {
    problem: lookup.problem,
    changedFiles,
  });
  await record();
  return { ...base, status: "run", reason, detail, key };
}

/** Where each input of `job` is: its cached upstream artifact's job, key and digest. */
function inputsAt(
  job: Job,
  byId: Map<string, PlannedJob>,
): Record<string, { job: string; key: string; digest: string }> {
  return Object.fromEntries(
    Object.entries(job.inputs).map(([name, upstreamId]) => {
      const upstream = byId.get(upstreamId)!;
      return [name, { job: upstreamId, key: upstream.key!, digest: upstream.digest! }];
    }),
  );
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
