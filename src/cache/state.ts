/**
 * The state table: the SHA-256 of every source file hashed so far, with the file's stamp (size,
 * mtime, ctime, inode) at that moment, as DVC's state database keeps it. A file whose stamp is
 * unchanged is not read again, so a warm plan over a 100k-image data root stats files instead of
 * hashing them. ctime cannot be set by a user (a rewrite that restores mtime still moves it), so
 * a changed file is noticed even when its size and mtime were put back.
 *
 *   <cache>/state/<host>.<pid>.<random>.jsonl   one JSON object per line:
 *       {"p": absolute path, "s": size, "m": mtime ms, "c": ctime ms, "i": inode, "h": sha256}
 *
 * Each process appends what it learned as a new file (written under a temporary name and renamed,
 * so a reader never sees half of it); loading reads them all, and when they grow many, one
 * process merges them into one. Several processes on several machines can do this at once:
 * an entry is only ever trusted when its whole stamp matches, so a lost, duplicated or outdated
 * line costs at most one rehash, never a wrong digest.
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
  private readonly learned: string[] = [];
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
      if (item.isFile && item.name.endsWith(".jsonl")) files.push(item.name);
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
      for (const line of text.split("\n")) {
        const parsed = parseLine(line);
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
    this.learned.push(lineOf(path, entry));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Writes what this process learned (one new file), merging all files when they are many. */
  async save(): Promise<void> {
    if (this.learned.length === 0) return;
    const lines = this.learned.splice(0);
    const merge = this.files.length + 1 > MAX_FILES || this.lines > 2 * this.entries.size + 10_000;
    if (!merge) {
      await this.writeFile(lines.join(""));
      return;
    }
    const all: string[] = [];
    for (const [path, entry] of this.entries) all.push(lineOf(path, entry));
    await this.writeFile(all.join(""));
    for (const name of this.files.splice(0)) {
      await Deno.remove(join(this.dir, name)).catch(() => {});
    }
  }

  private async writeFile(text: string): Promise<void> {
    const name = `${HOST}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
    const temp = join(this.dir, `${name}.tmp`);
    await Deno.writeTextFile(temp, text);
    await Deno.rename(temp, join(this.dir, `${name}.jsonl`));
  }
}

function lineOf(path: string, entry: Entry): string {
  const { size, mtimeMs, ctimeMs, ino, sha256 } = entry;
  return JSON.stringify({ p: path, s: size, m: mtimeMs, c: ctimeMs, i: ino, h: sha256 }) + "\n";
}

function parseLine(line: string): { path: string; entry: Entry } | null {
  if (line === "") return null;
  try {
    const v = JSON.parse(line);
    const numbers = [v.s, v.m, v.c, v.i].every((n) => typeof n === "number");
    if (typeof v.p !== "string" || !numbers || !/^[0-9a-f]{64}$/.test(v.h)) return null;
    return { path: v.p, entry: { size: v.s, mtimeMs: v.m, ctimeMs: v.c, ino: v.i, sha256: v.h } };
  } catch {
    return null; // a line cut short: ignored, its file is rehashed
  }
}
