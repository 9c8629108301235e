/**
 * Listing and reclaiming the cache. `collectGarbage` always removes temp leftovers of crashed or
 * killed runs (their process is gone) and artifacts that fail verification; on request also
 * artifacts unused for N days and artifacts no job identity's index entry points to any more.
 */
import { join } from "node:path";
import { type Artifact, type CacheStore, removeTree, type Verification } from "./store.ts";

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
  /** Rehash every file ("full") instead of trusting unchanged size + mtime ("stamp"). */
  verify?: Verification;
  /** Time reference for ages (tests). */
  now?: Date;
}

export interface Removal {
  what: "temp" | "corrupt" | "unused" | "unreachable";
  path: string;
  bytes: number;
  detail: string;
}

export interface GcReport {
  removed: Removal[];
  bytes: number;
  dryRun: boolean;
}

export async function collectGarbage(store: CacheStore, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? new Date();
  const removed: Removal[] = [];
  for await (const item of Deno.readDir(store.tmpDir)) {
    const path = join(store.tmpDir, item.name);
    const owner = Number(item.name.split(".")[1]);
    if (await ownerAlive(owner, path, now)) continue;
    removed.push({ what: "temp", path, bytes: await treeBytes(path), detail: item.name });
  }
  for (const info of await listArtifacts(store, { verify: options.verify })) {
    const base = { path: info.path, bytes: info.bytes };
    const name = `${info.kind ?? "?"} ${info.jobId ?? info.key}`;
    if (info.problem !== null) {
      removed.push({ what: "corrupt", ...base, detail: `${info.key}: ${info.problem}` });
    } else if (options.unreachable && info.indexedBy.length === 0) {
      removed.push({ what: "unreachable", ...base, detail: `${name} (superseded)` });
    } else if (options.unusedDays !== undefined) {
      const used = info.lastUsed ?? info.createdAt ?? new Date(0);
      const days = (now.getTime() - used.getTime()) / 86_400_000;
      if (days > options.unusedDays) {
        removed.push({
          what: "unused",
          ...base,
          detail: `${name} unused for ${days.toFixed(1)} days`,
        });
      }
    }
  }
  if (!options.dryRun) {
    for (const removal of removed) await removeTree(removal.path);
  }
  return {
    removed,
    bytes: removed.reduce((sum, r) => sum + r.bytes, 0),
    dryRun: options.dryRun ?? false,
  };
}

/**
 * A temp folder is named `<key>.<pid>.<random>`: it is live while that process exists. Where
 * /proc is not available, a folder untouched for a day counts as left over.
 */
async function ownerAlive(pid: number, path: string, now: Date): Promise<boolean> {
  if (pid === Deno.pid) return true;
  try {
    await Deno.stat("/proc/self");
  } catch {
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    return now.getTime() - mtime < 86_400_000;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
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
