/**
 * Content digests of sources: files and folders outside the cache that jobs read (CLIP weights,
 * a dataset's folder under the data root). A source's digest is the content digest of its files,
 * computed exactly as an artifact's (`contentDigest` of relative path -> { sha256, size }), so
 * renaming, adding, removing or editing any file changes it. Each file's hash is remembered in the
 * state table (state.ts) and reused while its stamp is unchanged: the first plan over a data root
 * reads every byte, later plans only stat.
 *
 * Each distinct file list is also kept in `<cache>/trees/<digest>.json`, so that `plan` can say how
 * many files changed since a job last ran ("data changed, 3 files").
 */
import { join, relative, sep } from "node:path";
import { UserError } from "../errors.ts";
import { yieldToEventLoop } from "../io/event_loop.ts";
import { canonicalJson } from "./canonical_json.ts";
import { sha256File, sha256Hex } from "./digest.ts";
import type { SourceSpec } from "./job.ts";
import { contentDigest, type FileEntry } from "./manifest.ts";
import { type FileStamp, sameStamp, stampOf, StateTable } from "./state.ts";

/** The digest of a path that does not exist (the job fails when it runs; planning goes on). */
export const ABSENT_DIGEST = sha256Hex("absent");

export interface SourceDigest {
  digest: string;
  /** Files the source covers and their total size. */
  files: number;
  bytes: number;
  /** Files read and hashed this time (their stamp was new or changed). */
  hashed: number;
  hashedBytes: number;
}

export interface HashProgress {
  /** The source being hashed. */
  path: string;
  done: number;
  total: number;
  bytes: number;
  totalBytes: number;
}

/** Files below this size are read in one call; larger ones are streamed. */
const SMALL_FILE = 4 << 20;
/** Yield to the event loop (signals, progress) after this many files. */
const YIELD_EVERY = 500;

export class SourceHasher {
  private readonly stateDir: string;
  private readonly treesDir: string;
  private table: StateTable | null = null;

  constructor(paths: { stateDir: string; treesDir: string }) {
    this.stateDir = paths.stateDir;
    this.treesDir = paths.treesDir;
  }

  /**
   * The digest of `spec` now: every file is statted, and only those the state table does not
   * know at their current stamp are read. (A plan asks once per source; see runner/plan.ts.)
   */
  async digest(
    spec: SourceSpec,
    options: { onProgress?: (progress: HashProgress) => void; signal?: AbortSignal } = {},
  ): Promise<SourceDigest> {
    return await this.compute(spec, options);
  }

  /** Writes what was learned to the state table. */
  async save(): Promise<void> {
    await this.table?.save();
  }

  /**
   * How many files differ between two file lists this cache has seen (added, removed or changed),
   * or null when either is unknown.
   */
  async changedFiles(before: string, after: string): Promise<number | null> {
    const [a, b] = [await this.readTree(before), await this.readTree(after)];
    if (a === null || b === null) return null;
    let changed = 0;
    for (const [path, entry] of Object.entries(b)) {
      const old = a[path];
      if (old === undefined || old.sha256 !== entry.sha256 || old.size !== entry.size) changed++;
    }
    for (const path of Object.keys(a)) if (!(path in b)) changed++;
    return changed;
  }

  private async compute(
    spec: SourceSpec,
    options: { onProgress?: (progress: HashProgress) => void; signal?: AbortSignal },
  ): Promise<SourceDigest> {
    const { onProgress, signal } = options;
    const listed = listSource(spec);
    if (listed === null) {
      return { digest: ABSENT_DIGEST, files: 0, bytes: 0, hashed: 0, hashedBytes: 0 };
    }
    this.table ??= await StateTable.load(this.stateDir);
    const table = this.table;
    const files: Record<string, FileEntry> = {};
    const unknown: { name: string; path: string; stamp: FileStamp }[] = [];
    let bytes = 0;
    for (const [i, { name, path, stamp }] of listed.entries()) {
      bytes += stamp.size;
      const known = table.lookup(path, stamp);
      if (known !== null) files[name] = { sha256: known, size: stamp.size };
      else unknown.push({ name, path, stamp });
      if (i % (YIELD_EVERY * 20) === YIELD_EVERY * 20 - 1) await yieldToEventLoop();
    }
    const totalBytes = unknown.reduce((sum, file) => sum + file.stamp.size, 0);
    let hashedBytes = 0;
    let lastYield = 0;
    for (const [i, file] of unknown.entries()) {
      signal?.throwIfAborted();
      const sha256 = await hashFile(file.path, file.stamp);
      files[file.name] = { sha256, size: file.stamp.size };
      // Remember the hash only when the file did not change while it was read.
      const after = statOrNull(file.path);
      if (after !== null && sameStamp(stampOf(after), file.stamp)) {
        table.remember(file.path, file.stamp, sha256);
      }
      hashedBytes += file.stamp.size;
      if (
        i - lastYield >= YIELD_EVERY || file.stamp.size >= SMALL_FILE || i === unknown.length - 1
      ) {
        lastYield = i;
        onProgress?.({
          path: spec.path,
          done: i + 1,
          total: unknown.length,
          bytes: hashedBytes,
          totalBytes,
        });
        await yieldToEventLoop();
      }
    }
    const sorted: Record<string, FileEntry> = {};
    for (const name of Object.keys(files).sort()) sorted[name] = files[name]!;
    const digest = contentDigest(sorted);
    await this.writeTree(digest, sorted);
    return { digest, files: listed.length, bytes, hashed: unknown.length, hashedBytes };
  }

  private treePath(digest: string): string {
    return join(this.treesDir, `${digest}.json`);
  }

  private async writeTree(digest: string, files: Record<string, FileEntry>): Promise<void> {
    const path = this.treePath(digest);
    try {
      await Deno.lstat(path);
      return;
    } catch {
      // Not kept yet.
    }
    await Deno.mkdir(this.treesDir, { recursive: true });
    const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeTextFile(temp, canonicalJson(files));
    await Deno.rename(temp, path);
  }

  private async readTree(digest: string): Promise<Record<string, FileEntry> | null> {
    if (digest === ABSENT_DIGEST) return {};
    try {
      return JSON.parse(await Deno.readTextFile(this.treePath(digest)));
    } catch {
      return null;
    }
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/**
 * The files a source covers, as (name relative to the source, absolute path, stamp), or null when
 * the path does not exist. Symbolic links are followed (data roots are often links to a larger
 * disk); a folder reached twice through links is listed once.
 */
function listSource(spec: SourceSpec): { name: string; path: string; stamp: FileStamp }[] | null {
  const info = statOrNull(spec.path);
  if (info === null) return null;
  if (info.isFile) {
    const name = spec.path.slice(spec.path.lastIndexOf("/") + 1);
    return [{ name, path: spec.path, stamp: stampOf(info) }];
  }
  const found: { name: string; path: string; stamp: FileStamp }[] = [];
  const visited = new Set<string>();
  const walk = (dir: string, info: Deno.FileInfo): void => {
    const id = `${info.dev}:${info.ino}`;
    if (visited.has(id)) return;
    visited.add(id);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      throw new UserError(`Cannot read ${dir}: ${(error as Error).message}`, { cause: error });
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const target = entry.isSymlink ? statOrNull(path) : Deno.statSync(path);
      if (target === null) continue; // a dangling link is not a file anyone can read
      if (target.isFile) {
        found.push({
          name: relative(spec.path, path).split(sep).join("/"),
          path,
          stamp: stampOf(target),
        });
      } else if (target.isDirectory && spec.depth === "tree") {
        walk(path, target);
      }
    }
  };
  walk(spec.path, info);
  return found;
}

async function hashFile(path: string, stamp: FileStamp): Promise<string> {
  try {
    if (stamp.size >= SMALL_FILE) return (await sha256File(path)).sha256;
    return sha256Hex(Deno.readFileSync(path));
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
