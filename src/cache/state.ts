/**
 * The state table: the SHA-256 of every source file hashed so far, with the file's stamp (size,
 * mtime, ctime, inode) at that moment, as DVC's state database keeps it. A file whose stamp is
 * unchanged is not read again, so a warm plan over a 100k-image data root stats files instead of
 * hashing them. ctime cannot be set by a user (a rewrite that restores mtime still moves it), so
 * a changed file is noticed even when its size and mtime were put back.
 *
 *   <cache>/state/<host>.<pid>.<random>.json   a JSON array of entries
 *       [absolute path, size, mtime ms, ctime ms, inode, sha256]
 *
 * Each process writes what it learned as a new file (under a temporary name, then renamed, so a
 * reader never sees half of it); loading reads them all (one JSON.parse each: 100k entries load in
 * well under a second), and when they grow many, one process merges them into one. Several
 * processes on several machines can do this at once: an entry is only ever trusted when its whole
 * stamp matches, so a lost, duplicated or outdated entry costs at most one rehash, never a wrong
 * digest.
 */
import { join } from "node:path";
import { HOST } from "./host.ts";

export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

interface Entry extends FileStamp {
  sha256: string;
}

/** Merge the files into one when there are more than this many. */
const MAX_FILES = 16;

export function stampOf(info: Deno.FileInfo): FileStamp {
  return {
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime() ?? 0,
    ino: info.ino ?? 0,
  };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino;
}

export class StateTable {
  readonly dir: string;
  private readonly entries: Map<string, Entry>;
  private readonly learned: [string, Entry][] = [];
  private readonly files: string[];
  private readonly lines: number;

  private constructor(
    dir: string,
    loaded: { files: string[]; lines: number; entries: Map<string, Entry> },
  ) {
    this.dir = dir;
    this.files = loaded.files;
    this.lines = loaded.lines;
    this.entries = loaded.entries;
  }

  /** Reads every state file in `dir` (created when absent). */
  static async load(dir: string): Promise<StateTable> {
    await Deno.mkdir(dir, { recursive: true });
    const files: string[] = [];
    for await (const item of Deno.readDir(dir)) {
      if (item.isFile && item.name.endsWith(".json")) files.push(item.name);
    }
    files.sort();
    let lines = 0;
    const entries = new Map<string, Entry>();
    for (const name of files) {
      let text: string;
      try {
        text = await Deno.readTextFile(join(dir, name));
      } catch {
        continue; // merged away by another process meanwhile: its lines are in the merged file
      }
      let rows: unknown;
      try {
        rows = JSON.parse(text);
      } catch {
        continue; // not one of ours: ignored, its files are rehashed
      }
      if (!Array.isArray(rows)) continue;
      for (const row of rows) {
        const parsed = parseRow(row);
        if (parsed === null) continue;
        lines++;
        entries.set(parsed.path, parsed.entry);
      }
    }
    return new StateTable(dir, { files, lines, entries });
  }

  /** The recorded SHA-256 of `path`, when its stamp is still `stamp`. */
  lookup(path: string, stamp: FileStamp): string | null {
    const entry = this.entries.get(path);
    return entry !== undefined && sameStamp(entry, stamp) ? entry.sha256 : null;
  }

  remember(path: string, stamp: FileStamp, sha256: string): void {
    const entry = { ...stamp, sha256 };
    this.entries.set(path, entry);
    this.learned.push([path, entry]);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Writes what this process learned (one new file), merging all files when they are many. */
  async save(): Promise<void> {
    if (this.learned.length === 0) return;
    const learned = this.learned.splice(0);
    const merge = this.files.length + 1 > MAX_FILES || this.lines > 2 * this.entries.size + 10_000;
    if (!merge) {
      await this.writeFile(learned);
      return;
    }
    await this.writeFile(this.entries.entries());
    for (const name of this.files.splice(0)) {
      await Deno.remove(join(this.dir, name)).catch(() => {});
    }
  }

  private async writeFile(entries: Iterable<[string, Entry]>): Promise<void> {
    const rows: string[] = [];
    for (const [path, { size, mtimeMs, ctimeMs, ino, sha256 }] of entries) {
      rows.push(JSON.stringify([path, size, mtimeMs, ctimeMs, ino, sha256]));
    }
    const name = `${HOST}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
    const temp = join(this.dir, `${name}.tmp`);
    await Deno.writeTextFile(temp, `[\n${rows.join(",\n")}\n]\n`);
    await Deno.rename(temp, join(this.dir, `${name}.json`));
  }
}

function parseRow(row: unknown): { path: string; entry: Entry } | null {
  if (!Array.isArray(row) || row.length !== 6) return null;
  const [path, size, mtimeMs, ctimeMs, ino, sha256] = row;
  const numbers = [size, mtimeMs, ctimeMs, ino].every((n) => typeof n === "number");
  if (typeof path !== "string" || !numbers || typeof sha256 !== "string") return null;
  if (sha256.length !== 64) return null;
  return { path, entry: { size, mtimeMs, ctimeMs, ino, sha256 } };
}
