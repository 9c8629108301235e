/**
 * The artifact cache on disk. This module (with gc.ts, lock.ts, sources.ts, state.ts) is the only
 * code that touches the cache folder. Layout:
 *
 *   <root>/artifacts/<key>/manifest.json   what made the artifact and every file's sha256 + size
 *   <root>/artifacts/<key>/data/...        the files the job wrote (read only)
 *   <root>/artifacts/<key>/log.txt         the job's log lines (not part of the content digest)
 *   <root>/artifacts/<key>/run.json        how the job ran (speed, memory, machine), when it
 *                                          recorded that; not part of the content digest
 *   <root>/artifacts/<key>/stamp.json      last use, and (size, mtime, ctime, inode) of each file
 *                                          when it was last hashed, so a reread need not rehash
 *   <root>/index/<id hash>.json            per job identity (kind + job id): the last key it had
 *                                          and what that key was made of, to explain a rerun
 *   <root>/jobs/<key>.json                 the job record: everything needed to execute the job
 *                                          in another process (see record.ts)
 *   <root>/tmp/<key>.<host>.<pid>.<random>/  artifacts being written; renamed into artifacts/
 *                                          when complete, so a crash leaves at most a folder here
 *   <root>/locks/, <root>/runs/            locks and run registrations (lock.ts)
 *   <root>/state/, <root>/trees/           source file hashes and file lists (sources.ts)
 *   <root>/logs/<key>.<slurm job id>.log   what a cluster job's worker printed (runner/slurm.ts)
 */
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import { canonicalJson, type JsonValue } from "./canonical_json.ts";
import { sha256File, sha256Hex } from "./digest.ts";
import { HOST } from "./host.ts";
import { KEY_SCHEMA } from "./key.ts";
import { type LockOptions, Locks, RunLease } from "./lock.ts";
import { onAbruptExit } from "./cleanup.ts";
import { SourceHasher } from "./sources.ts";
import { stampOf } from "./state.ts";
import {
  contentDigest,
  type FileEntry,
  type Manifest,
  MANIFEST_SCHEMA,
  parseManifest,
} from "./manifest.ts";

/** `.cache/rankone` in the project folder, or `$RANKONE_CACHE` when set. */
export function defaultCacheRoot(): string {
  const fromEnv = Deno.env.get("RANKONE_CACHE");
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return fileURLToPath(new URL("../../.cache/rankone", import.meta.url));
}

/** A complete, verified artifact. */
export interface Artifact {
  key: string;
  /** The artifact folder (manifest.json, data/, log.txt). */
  root: string;
  /** The data folder: what the job wrote. */
  dir: string;
  manifest: Manifest;
}

export type Lookup =
  | { found: true; artifact: Artifact }
  /** `problem` is null when there is simply no artifact, or says why the one there is unusable. */
  | { found: false; problem: string | null };

/**
 * How hard `lookup` checks file contents: "stamp" rehashes only files whose (size, mtime, ctime,
 * inode) changed since they were last hashed, "full" rehashes every file.
 */
export type Verification = "stamp" | "full";

/** Last known key of a job identity, and what it was made of. */
export interface IndexEntry {
  keySchema: number;
  kind: string;
  jobId: string;
  key: string;
  version: number;
  params: JsonValue;
  inputs: Record<string, string>;
  /** Source content digests (absent in entries written before sources existed). */
  sources?: Record<string, string>;
  digest: string;
  updatedAt: string;
}

/** An artifact being written: the job writes into `dataDir`. */
export interface PendingArtifact {
  key: string;
  tmpDir: string;
  dataDir: string;
  logPath: string;
  /** Unregisters the folder from the removal done on an abrupt exit. */
  release(): void;
}

interface Stamp {
  lastUsed: string;
  /** path -> [size, mtime ms, ctime ms, inode] at the last successful hash. */
  verified: Record<string, number[]>;
}

/** `run.json` beside an artifact's manifest: how its job ran. */
const RUN_FILE = "run.json";
const RUN_SCHEMA = 1;

interface RunRecord {
  runSchema: number;
  /** What the job recorded (`TrainRunStats`, `EvaluateRunStats`, ...). */
  stats: object;
}

/** Re-writing the stamp on every cached read would cost a write per job; this often is enough. */
const LAST_USED_RESOLUTION_MS = 10 * 60 * 1000;

export class CacheStore {
  readonly root: string;
  readonly artifactsDir: string;
  readonly indexDir: string;
  readonly tmpDir: string;
  readonly jobsDir: string;
  readonly locksDir: string;
  readonly runsDir: string;
  readonly stateDir: string;
  readonly treesDir: string;
  /** Cluster jobs' logs. */
  readonly logsDir: string;
  /** Locks on keys being computed. */
  readonly locks: Locks;
  /** Digests of source files and folders (one hasher per store, so one plan hashes once). */
  readonly sources: SourceHasher;

  private constructor(root: string, options: LockOptions) {
    this.root = root;
    this.artifactsDir = join(root, "artifacts");
    this.indexDir = join(root, "index");
    this.tmpDir = join(root, "tmp");
    this.jobsDir = join(root, "jobs");
    this.locksDir = join(root, "locks");
    this.runsDir = join(root, "runs");
    this.stateDir = join(root, "state");
    this.treesDir = join(root, "trees");
    this.logsDir = join(root, "logs");
    this.locks = new Locks(this.locksDir, options);
    this.sources = new SourceHasher({ stateDir: this.stateDir, treesDir: this.treesDir });
  }

  /** Opens (creating when absent) the cache at `root`, by default `defaultCacheRoot()`. */
  static async open(
    root: string = defaultCacheRoot(),
    options: LockOptions = {},
  ): Promise<CacheStore> {
    const store = new CacheStore(root, options);
    try {
      for (
        const dir of [
          store.artifactsDir,
          store.indexDir,
          store.tmpDir,
          store.jobsDir,
          store.locksDir,
          store.runsDir,
          store.stateDir,
          store.treesDir,
          store.logsDir,
        ]
      ) {
        await Deno.mkdir(dir, { recursive: true });
      }
      const tag = join(root, "CACHEDIR.TAG");
      if (!(await exists(tag))) {
        await writeFileAtomic(
          tag,
          "Signature: 8a477f597d28d172789f06886806bc55\n# rankone artifact cache\n",
        );
      }
    } catch (error) {
      throw new UserError(`Cannot open cache ${root}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return store;
  }

  artifactRoot(key: string): string {
    return join(this.artifactsDir, key);
  }

  /** Registers a running pipeline, so `cache gc` keeps what it uses (see lock.ts). */
  openLease(what: string): Promise<RunLease> {
    return RunLease.open(this.runsDir, what);
  }

  /**
   * The artifact stored under `key`, verified against its manifest; a missing, extra, resized or
   * rehashed-different file makes it a miss with `problem` saying which.
   */
  async lookup(
    key: string,
    options: { verify?: Verification; touch?: boolean } = {},
  ): Promise<Lookup> {
    const root = this.artifactRoot(key);
    let text: string;
    try {
      text = Deno.readTextFileSync(join(root, "manifest.json"));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { found: false, problem: (await exists(root)) ? "manifest.json is missing" : null };
      }
      throw error;
    }
    const manifest = parseManifest(text);
    if (typeof manifest === "string") return { found: false, problem: manifest };
    if (manifest.key !== key) {
      return { found: false, problem: `manifest names key ${manifest.key}` };
    }
    const dir = join(root, "data");
    const stamp = readStamp(root);
    const problem = await verifyFiles(dir, manifest.files, stamp, options.verify ?? "stamp");
    if (problem !== null) return { found: false, problem };
    const now = Date.now();
    // Inspecting the cache (`cache ls`, `cache gc`) passes touch: false: it writes nothing, so
    // it neither makes every artifact look recently used nor records a stamp of its own.
    const touch = options.touch ?? true;
    const stale = now - Date.parse(stamp.value.lastUsed) > LAST_USED_RESOLUTION_MS;
    if (touch && (stamp.changed || stale)) {
      stamp.value.lastUsed = new Date(now).toISOString();
      await writeFileAtomic(join(root, "stamp.json"), JSON.stringify(stamp.value)).catch(() => {
        // A read-only cache (or one being removed) still serves verified artifacts.
      });
    }
    return { found: true, artifact: { key, root, dir, manifest } };
  }

  /**
   * A fresh temporary folder to write the artifact for `key` into, named after this process
   * (`<key>.<host>.<pid>.<random>`) so `cache gc` can tell a live writer's folder from a leftover.
   */
  async beginArtifact(key: string): Promise<PendingArtifact> {
    const tmpDir = join(this.tmpDir, `${key}.${HOST}.${Deno.pid}.${randomSuffix()}`);
    const dataDir = join(tmpDir, "data");
    await Deno.mkdir(dataDir, { recursive: true });
    const logPath = join(tmpDir, "log.txt");
    await Deno.writeTextFile(logPath, "");
    const release = onAbruptExit({ kind: "tree", path: tmpDir });
    return { key, tmpDir, dataDir, logPath, release };
  }

  /**
   * Hashes what was written, adds the manifest and moves the folder into place. Whatever is under
   * the key already (a corrupt artifact, or the previous output of a forced job) is replaced: it
   * is moved aside by one rename, the new folder takes its place by a second, and the old one is
   * deleted. The caller holds the key's lock, so no other writer races it.
   */
  async commitArtifact(
    pending: PendingArtifact,
    info: Pick<
      Manifest,
      "kind" | "jobId" | "version" | "params" | "inputs" | "sources" | "timings" | "backend"
    >,
    run: { stats: object | null } = { stats: null },
  ): Promise<Artifact> {
    const { key, tmpDir, dataDir } = pending;
    const listed = listFiles(dataDir, info.jobId);
    const files: Record<string, FileEntry> = {};
    const verified: Stamp["verified"] = {};
    for (const path of listed) {
      const full = join(dataDir, path);
      files[path] = await sha256File(full);
      // Read only, so a later stage cannot modify its input in place by mistake.
      await Deno.chmod(full, 0o444);
      verified[path] = stampValues(await Deno.stat(full));
    }
    const now = new Date().toISOString();
    const manifest: Manifest = {
      manifestSchema: MANIFEST_SCHEMA,
      keySchema: KEY_SCHEMA,
      key,
      ...info,
      files,
      digest: contentDigest(files),
      createdAt: now,
    };
    await Deno.writeTextFile(join(tmpDir, "manifest.json"), JSON.stringify(manifest, null, 1));
    const stamp: Stamp = { lastUsed: now, verified };
    await Deno.writeTextFile(join(tmpDir, "stamp.json"), JSON.stringify(stamp));
    if (run.stats !== null) {
      // Renamed into place with the rest: an artifact never lacks the figures of its run.
      const record: RunRecord = { runSchema: RUN_SCHEMA, stats: run.stats };
      await Deno.writeTextFile(join(tmpDir, RUN_FILE), JSON.stringify(record, null, 1) + "\n");
    }
    const root = this.artifactRoot(key);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await Deno.rename(tmpDir, root);
        pending.release();
        return { key, root, dir: join(root, "data"), manifest };
      } catch (error) {
        if (!(await exists(root))) throw error;
      }
      const aside = `${tmpDir}-old`;
      const unregister = onAbruptExit({ kind: "tree", path: aside });
      try {
        await Deno.rename(root, aside);
        await Deno.rename(tmpDir, root);
        pending.release();
        return { key, root, dir: join(root, "data"), manifest };
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // vanished meanwhile: try again
        throw error;
      } finally {
        await removeTree(aside);
        unregister();
      }
    }
    throw new Error(`Cannot move ${tmpDir} to ${root}`);
  }

  /** Removes an artifact that will not be committed (failed or interrupted job). */
  async discardArtifact(pending: PendingArtifact): Promise<void> {
    await removeTree(pending.tmpDir);
    pending.release();
  }

  /**
   * The figures the job that made the artifact under `key` recorded about how it ran
   * (`ctx.recordStats`), or null when it recorded none (or the artifact predates them).
   */
  async readRunStats(key: string): Promise<unknown> {
    try {
      const text = await Deno.readTextFile(join(this.artifactRoot(key), RUN_FILE));
      const record = JSON.parse(text) as Partial<RunRecord>;
      return record.runSchema === RUN_SCHEMA ? record.stats ?? null : null;
    } catch {
      return null;
    }
  }

  /** The log lines of the job that made the artifact under `key` ("" when it logged none). */
  async readLog(key: string): Promise<string> {
    try {
      return await Deno.readTextFile(join(this.artifactRoot(key), "log.txt"));
    } catch {
      return "";
    }
  }

  async readIndex(kind: string, jobId: string): Promise<IndexEntry | null> {
    try {
      return JSON.parse(await Deno.readTextFile(this.indexPath(kind, jobId))) as IndexEntry;
    } catch {
      return null;
    }
  }

  async writeIndex(entry: Omit<IndexEntry, "keySchema" | "updatedAt">): Promise<void> {
    const full: IndexEntry = { keySchema: KEY_SCHEMA, ...entry, updatedAt: nowIso() };
    await writeFileAtomic(this.indexPath(entry.kind, entry.jobId), JSON.stringify(full));
  }

  /** Every index entry (for gc and ls). */
  async listIndex(): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for await (const item of Deno.readDir(this.indexDir)) {
      if (!item.isFile || !item.name.endsWith(".json")) continue;
      try {
        entries.push(JSON.parse(await Deno.readTextFile(join(this.indexDir, item.name))));
      } catch {
        // A torn or foreign file is not an entry; gc leaves it for the user to see.
      }
    }
    return entries;
  }

  private indexPath(kind: string, jobId: string): string {
    return join(this.indexDir, `${sha256Hex(canonicalJson([kind, jobId])).slice(0, 32)}.json`);
  }
}

function stampValues(info: Deno.FileInfo): number[] {
  const { size, mtimeMs, ctimeMs, ino } = stampOf(info);
  return [size, mtimeMs, ctimeMs, ino];
}

// Reading a manifest, its stamp and the stat of each file are small synchronous calls: a cached
// plan makes a few thousand of them, and Deno's synchronous file calls cost a fifth of the async.

function readStamp(root: string): { value: Stamp; changed: boolean } {
  try {
    const value = JSON.parse(Deno.readTextFileSync(join(root, "stamp.json"))) as Stamp;
    if (typeof value.lastUsed === "string" && typeof value.verified === "object") {
      return { value, changed: false };
    }
  } catch {
    // Missing or torn: verify everything and write a new one.
  }
  return { value: { lastUsed: new Date(0).toISOString(), verified: {} }, changed: true };
}

/** Checks `dir` holds exactly the manifest's files; returns the first problem found, or null. */
async function verifyFiles(
  dir: string,
  files: Record<string, FileEntry>,
  stamp: { value: Stamp; changed: boolean },
  mode: Verification,
): Promise<string | null> {
  let listed: string[];
  try {
    listed = listFiles(dir, dir);
  } catch (error) {
    return `cannot list data/: ${(error as Error).message}`;
  }
  const expected = Object.keys(files);
  const extra = listed.filter((path) => !(path in files));
  if (extra.length > 0) return `unexpected file data/${extra[0]}`;
  if (listed.length !== expected.length) {
    const present = new Set(listed);
    return `file data/${expected.find((path) => !present.has(path))} is missing`;
  }
  for (const [path, entry] of Object.entries(files)) {
    const full = join(dir, path);
    const stat = Deno.statSync(full);
    if (stat.size !== entry.size) {
      return `file data/${path} has ${stat.size} bytes, manifest says ${entry.size}`;
    }
    const now = stampValues(stat);
    const seen = stamp.value.verified[path];
    if (mode === "stamp" && seen?.length === now.length && seen.every((v, i) => v === now[i])) {
      continue;
    }
    const { sha256 } = await sha256File(full);
    if (sha256 !== entry.sha256) return `file data/${path} content does not match its sha256`;
    stamp.value.verified[path] = now;
    stamp.changed = true;
  }
  return null;
}

/** Regular files under `dir`, as sorted POSIX relative paths; symlinks and others are errors. */
function listFiles(dir: string, owner: string): string[] {
  const found: string[] = [];
  function walk(current: string): void {
    for (const entry of Deno.readDirSync(current)) {
      const full = join(current, entry.name);
      if (entry.isDirectory) walk(full);
      else if (entry.isFile) found.push(relative(dir, full).split(sep).join("/"));
      else throw new UserError(`${owner}: ${full} is not a regular file (symlinks are not cached)`);
    }
  }
  walk(dir);
  return found.sort();
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Writes `text` to a temporary name beside `path`, then renames it over `path`. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${randomSuffix()}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** Removes a folder tree, read-only files included; absent is fine. */
export async function removeTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function randomSuffix(): string {
  return crypto.randomUUID().slice(0, 8);
}

function nowIso(): string {
  return new Date().toISOString();
}
