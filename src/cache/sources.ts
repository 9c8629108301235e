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
import { createHash } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { yieldToEventLoop } from "../io/event_loop.ts";
import { canonicalJson } from "./canonical_json.ts";
import { sha256File, sha256Hex } from "./digest.ts";
import type { SourceSpec } from "./job.ts";
import type { FileEntry } from "./manifest.ts";
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
   * know at their current stamp are read. (A plan asks once per source; see runner/status.ts.)
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
    const unknown: ListedFile[] = [];
    let bytes = 0;
    for (const file of listed) {
      bytes += file.stamp.size;
      file.sha256 = table.lookup(file.path, file.stamp);
      if (file.sha256 === null) unknown.push(file);
    }
    const totalBytes = unknown.reduce((sum, file) => sum + file.stamp.size, 0);
    let hashedBytes = 0;
    let lastYield = 0;
    for (const [i, file] of unknown.entries()) {
      signal?.throwIfAborted();
      file.sha256 = await hashFile(file.path, file.stamp);
      // Remember the hash only when the file did not change while it was read.
      const after = statOrNull(file.path);
      if (after !== null && sameStamp(stampOf(after), file.stamp)) {
        table.remember(file.path, file.stamp, file.sha256);
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
    const digest = fileListDigest(listed);
    if (!(await exists(this.treePath(digest)))) await this.writeTree(digest, listed);
    return { digest, files: listed.length, bytes, hashed: unknown.length, hashedBytes };
  }

  private treePath(digest: string): string {
    return join(this.treesDir, `${digest}.json`);
  }

  private async writeTree(digest: string, listed: ListedFile[]): Promise<void> {
    const path = this.treePath(digest);
    const files: Record<string, FileEntry> = {};
    for (const file of listed) files[file.name] = { sha256: file.sha256!, size: file.stamp.size };
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

interface ListedFile {
  /** Relative to the source, "/"-separated. */
  name: string;
  path: string;
  stamp: FileStamp;
  sha256: string | null;
}

/**
 * The files a source covers, sorted by name (UTF-16 code units, as canonical JSON sorts keys), or
 * null when the path does not exist. Symbolic links are followed (data roots are often links to a
 * larger disk); a folder reached twice through links is listed once. Synchronous calls: a warm
 * plan stats every file, and Deno's synchronous stat costs a fifth of the async one.
 */
function listSource(spec: SourceSpec): ListedFile[] | null {
  const info = statOrNull(spec.path);
  if (info === null) return null;
  if (info.isFile) {
    const name = spec.path.slice(spec.path.lastIndexOf("/") + 1);
    return [{ name, path: spec.path, stamp: stampOf(info), sha256: null }];
  }
  const found: ListedFile[] = [];
  const visited = new Set<string>();
  const walk = (dir: string, prefix: string, info: Deno.FileInfo): void => {
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
      const path = `${dir}/${entry.name}`;
      const target = entry.isSymlink ? statOrNull(path) : Deno.statSync(path);
      if (target === null) continue; // a dangling link is not a file anyone can read
      if (target.isFile) {
        found.push({ name: prefix + entry.name, path, stamp: stampOf(target), sha256: null });
      } else if (target.isDirectory && spec.depth === "tree") {
        walk(path, `${prefix}${entry.name}/`, target);
      }
    }
  };
  walk(spec.path.replace(/\/+$/, "") || "/", "", info);
  return found.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * `contentDigest` of the listed files (each hashed), streamed: the canonical JSON of a 100k-file
 * map is written piece by piece into the hash instead of built as one string.
 */
function fileListDigest(files: readonly ListedFile[]): string {
  const hash = createHash("sha256");
  hash.update("{");
  files.forEach((file, i) => {
    const entry = `{"sha256":${JSON.stringify(file.sha256)},"size":${file.stamp.size}}`;
    hash.update(`${i > 0 ? "," : ""}${JSON.stringify(file.name)}:${entry}`);
  });
  hash.update("}");
  return hash.digest("hex");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function hashFile(path: string, stamp: FileStamp): Promise<string> {
  try {
    if (stamp.size >= SMALL_FILE) return (await sha256File(path)).sha256;
    return sha256Hex(Deno.readFileSync(path));
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
