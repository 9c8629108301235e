/**
 * Listing and reclaiming the cache. `collectGarbage` always removes temp leftovers of crashed or
 * killed runs (their writer is gone), locks and run registrations of dead processes, artifacts
 * that fail verification, and cluster jobs' logs once done with (see `oldWorkerLogs`); on request also artifacts unused for N days and artifacts no
 * job identity's index entry points to any more. It never removes an artifact a live run has
 * registered (used or written) or one whose key is locked: it takes the key's lock itself while
 * removing, and checks the registrations again after moving the artifact aside.
 */
import { join } from "node:path";
import { HOST, PROCESS_START, processAlive } from "./host.ts";
import { liveRunKeys } from "./lock.ts";
import { recordPath } from "./record.ts";
import { type Artifact, type CacheStore, exists, removeTree, type Verification } from "./store.ts";

export interface ArtifactInfo {
  key: string;
  path: string;
  kind: string | null;
  /** The job that made it. */
  jobId: string | null;
  /** Job identities whose last run points here (empty: superseded, unreachable from the index). */
  indexedBy: string[];
  bytes: number;
  createdAt: Date | null;
  lastUsed: Date | null;
  /** Why it is unusable, or null when it verified. */
  problem: string | null;
}

export async function listArtifacts(
  store: CacheStore,
  options: { verify?: Verification } = {},
): Promise<ArtifactInfo[]> {
  const indexedBy = new Map<string, string[]>();
  for (const entry of await store.listIndex()) {
    indexedBy.set(entry.key, [...(indexedBy.get(entry.key) ?? []), entry.jobId]);
  }
  const infos: ArtifactInfo[] = [];
  for await (const item of Deno.readDir(store.artifactsDir)) {
    if (!item.isDirectory) continue;
    const key = item.name;
    const path = store.artifactRoot(key);
    const lookup = await store.lookup(key, { verify: options.verify ?? "stamp", touch: false });
    const artifact: Artifact | null = lookup.found ? lookup.artifact : null;
    infos.push({
      key,
      path,
      kind: artifact?.manifest.kind ?? null,
      jobId: artifact?.manifest.jobId ?? null,
      indexedBy: indexedBy.get(key) ?? [],
      bytes: await treeBytes(path),
      createdAt: artifact ? new Date(artifact.manifest.createdAt) : null,
      lastUsed: await readLastUsed(path),
      problem: lookup.found ? null : lookup.problem ?? "unreadable",
    });
  }
  return infos.sort((a, b) =>
    (a.kind ?? "").localeCompare(b.kind ?? "") || (a.jobId ?? "").localeCompare(b.jobId ?? "")
  );
}

export interface GcOptions {
  /** Report what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Also remove artifacts not used for this many days. */
  unusedDays?: number;
  /** Also remove artifacts that no index entry points to (superseded by a later run). */
  unreachable?: boolean;
  /** Rehash every file ("full") instead of trusting unchanged stamps ("stamp"). */
  verify?: Verification;
  /** Time reference for ages (tests). */
  now?: Date;
}

export interface Removal {
  what: "temp" | "corrupt" | "unused" | "unreachable" | "file list" | "log";
  path: string;
  bytes: number;
  detail: string;
}

export interface GcReport {
  removed: Removal[];
  /** What would have gone but is in use: registered by a live run, or being computed. */
  kept: Removal[];
  bytes: number;
  dryRun: boolean;
}

export async function collectGarbage(store: CacheStore, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? new Date();
  const dryRun = options.dryRun ?? false;
  const removed: Removal[] = [];
  const kept: Removal[] = [];
  for (const temp of await leftoverTemps(store)) {
    removed.push(temp);
    if (!dryRun) await removeTree(temp.path);
  }
  for (const info of await listArtifacts(store, { verify: options.verify })) {
    const candidate = garbageReason(info, options, now);
    if (candidate === null) continue;
    const gone = dryRun
      ? await inUse(store, info.key) === null
      : await removeArtifact(store, info.key);
    (gone ? removed : kept).push(candidate);
  }
  for (const file of [...await unusedTrees(store), ...await oldWorkerLogs(store, now)]) {
    removed.push(file);
    if (!dryRun) await Deno.remove(file.path).catch(() => {});
  }
  if (!dryRun) await removeDeadLocks(store);
  return { removed, kept, bytes: removed.reduce((sum, r) => sum + r.bytes, 0), dryRun };
}

function garbageReason(info: ArtifactInfo, options: GcOptions, now: Date): Removal | null {
  const base = { path: info.path, bytes: info.bytes };
  const name = `${info.kind ?? "?"} ${info.jobId ?? info.key}`;
  if (info.problem !== null) {
    return { what: "corrupt", ...base, detail: `${info.key}: ${info.problem}` };
  }
  if (options.unreachable && info.indexedBy.length === 0) {
    return { what: "unreachable", ...base, detail: `${name} (superseded)` };
  }
  if (options.unusedDays !== undefined) {
    const used = info.lastUsed ?? info.createdAt ?? new Date(0);
    const days = (now.getTime() - used.getTime()) / 86_400_000;
    if (days > options.unusedDays) {
      return { what: "unused", ...base, detail: `${name} unused for ${days.toFixed(1)} days` };
    }
  }
  return null;
}

/** Why `key` must stay: a live run registered it, or its lock is held; null when free. */
async function inUse(store: CacheStore, key: string): Promise<string | null> {
  if ((await liveRunKeys(store.runsDir, store.locks)).has(key)) return "used by a running pipeline";
  return (await store.locks.isHeld(key)) ? "being computed" : null;
}

/**
 * Removes the artifact under `key` unless it is in use: under its lock, moved aside by one
 * rename, and put back if a run registered it meanwhile. True when it was removed.
 */
async function removeArtifact(store: CacheStore, key: string): Promise<boolean> {
  const attempt = await store.locks.tryAcquire(key, "cache gc");
  if (!("held" in attempt)) return false;
  try {
    if ((await liveRunKeys(store.runsDir, store.locks)).has(key)) return false;
    const root = store.artifactRoot(key);
    const aside = join(store.tmpDir, `${key}.${HOST}.${Deno.pid}.gc`);
    await Deno.rename(root, aside);
    if ((await liveRunKeys(store.runsDir, store.locks)).has(key)) {
      await Deno.rename(aside, root).catch(() => {});
      return false;
    }
    await removeTree(aside);
    await Deno.remove(recordPath(store, key)).catch(() => {});
    return true;
  } finally {
    await store.locks.release(attempt.held);
  }
}

/**
 * Temp folders whose writer is gone. A folder is named `<key>.<host>.<pid>.<random>` (older
 * versions: `<key>.<pid>.<random>`); its writer holds the key's lock while it exists, so a folder
 * whose key is not locked by a live holder, and whose process (on this host) is gone, is left over.
 */
async function leftoverTemps(store: CacheStore): Promise<Removal[]> {
  const found: Removal[] = [];
  for await (const item of Deno.readDir(store.tmpDir)) {
    const path = join(store.tmpDir, item.name);
    const parts = item.name.split(".");
    const key = parts[0] ?? "";
    const [host, pid] = parts.length >= 4
      ? [parts[1]!, Number(parts[2])]
      : [HOST, Number(parts[1])];
    if (pid === Deno.pid && host === HOST) continue;
    if (host === HOST && PROCESS_START !== 0 && processAlive(pid, 0)) continue;
    if (PROCESS_START === 0 && await youngerThanADay(path)) continue; // no /proc: judge by age
    if (/^[0-9a-f]{64}$/.test(key) && await store.locks.isHeld(key)) continue;
    found.push({ what: "temp", path, bytes: await treeBytes(path), detail: item.name });
  }
  return found;
}

/**
 * File lists (`trees/`) of source digests no job identity's last run used: they only ever
 * explained a rerun ("3 files changed") against a state that is gone. Lists written in the last
 * hour stay (a plan may be about to run the jobs that will use them).
 */
async function unusedTrees(store: CacheStore): Promise<Removal[]> {
  const used = new Set<string>();
  for (const entry of await store.listIndex()) {
    for (const digest of Object.values(entry.sources ?? {})) used.add(digest);
  }
  const found: Removal[] = [];
  for await (const item of Deno.readDir(store.treesDir)) {
    const digest = item.name.replace(/\.json$/, "");
    if (!item.isFile || used.has(digest)) continue;
    const path = join(store.treesDir, item.name);
    const info = await Deno.stat(path).catch(() => null);
    if (info === null || Date.now() - (info.mtime?.getTime() ?? 0) < 3_600_000) continue;
    found.push({ what: "file list", path, bytes: info.size, detail: `trees/${item.name}` });
  }
  return found;
}

/**
 * Cluster jobs' logs (`logs/<key>.<slurm job id>.log`) whose job's artifact exists, once an hour
 * old (the job's own lines are in the artifact's log.txt), and any a week old (a failure's log
 * stays that long for its reader).
 */
async function oldWorkerLogs(store: CacheStore, now: Date): Promise<Removal[]> {
  const found: Removal[] = [];
  for await (const item of Deno.readDir(store.logsDir)) {
    const path = join(store.logsDir, item.name);
    const info = await Deno.stat(path).catch(() => null);
    if (!item.isFile || info === null) continue;
    const age = now.getTime() - (info.mtime?.getTime() ?? 0);
    const key = item.name.split(".")[0]!;
    const done = age > 3_600_000 && await exists(store.artifactRoot(key));
    if (!done && age < 7 * 86_400_000) continue;
    found.push({ what: "log", path, bytes: info.size, detail: `logs/${item.name}` });
  }
  return found;
}

async function youngerThanADay(path: string): Promise<boolean> {
  const mtime = (await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0;
  return Date.now() - mtime < 86_400_000;
}

/**
 * Lock files whose holder is dead (killed while computing) are removed, and the scraps a killed
 * taker can leave beside them (its not yet linked `.tmp`, a moved-aside `.dead-*`) after an hour.
 */
async function removeDeadLocks(store: CacheStore): Promise<void> {
  for await (const item of Deno.readDir(store.locksDir)) {
    if (!item.name.endsWith(".lock")) {
      const path = join(store.locksDir, item.name);
      const mtime = (await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? Date.now();
      if (Date.now() - mtime > 3_600_000) await Deno.remove(path).catch(() => {});
      continue;
    }
    const key = item.name.slice(0, -".lock".length);
    if (await store.locks.isHeld(key)) continue;
    const attempt = await store.locks.tryAcquire(key, "cache gc");
    if ("held" in attempt) await store.locks.release(attempt.held);
  }
}

async function readLastUsed(path: string): Promise<Date | null> {
  try {
    const stamp = JSON.parse(await Deno.readTextFile(join(path, "stamp.json")));
    return typeof stamp.lastUsed === "string" ? new Date(stamp.lastUsed) : null;
  } catch {
    return null;
  }
}

async function treeBytes(path: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(path)) {
      const full = join(path, entry.name);
      if (entry.isDirectory) total += await treeBytes(full);
      else total += (await Deno.lstat(full)).size;
    }
  } catch {
    // Vanished while listing: counts as nothing.
  }
  return total;
}
