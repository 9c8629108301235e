/**
 * Locks and run registrations in the cache folder, made to work across machines that share it
 * (NFS, Lustre, GPFS) as well as between processes of one machine.
 *
 *   <cache>/locks/<key>.lock            held while the job with this key is computed
 *   <cache>/runs/<host>.<pid>.<n>.jsonl a running pipeline: a header line, then every artifact
 *                                       key it has used or written, one per line
 *
 * A lock is taken by writing its content to a file of its own and hard-linking that file to the
 * lock's name: link() fails when the name exists, atomically on local file systems and on NFS
 * (the classic NFS lock), so the lock file always holds its whole line: host, pid, the process's
 * start time, the job, when, and a random nonce. While held, the holder rewrites those same bytes every
 * HEARTBEAT_MS, which moves the file's mtime on the file server's clock. A holder is dead when:
 *   - it runs on this host and its pid is gone (or now belongs to a later process), or
 *   - its lock file's mtime is older than `staleMs` on the file server's clock, read by writing a
 *     probe file into the same folder, so machines whose clocks disagree still agree.
 * A dead holder's lock is taken over: moved aside by one rename (only one process can win it),
 * checked to be the dead one (else put back with link(), which fails rather than overwrite), then
 * created anew. Run registrations are kept alive the same way; `cache gc` never removes an
 * artifact that a live run has registered or a live lock covers.
 *
 * Correctness never rests on a lock: artifacts appear by one rename and are verified on read, so
 * a lock that two processes believed they held (a network partition longer than `staleMs`) costs
 * duplicated work, not a wrong result.
 */
import { join } from "node:path";
import { onAbruptExit } from "./cleanup.ts";
import { HOST, PROCESS_START, processAlive } from "./host.ts";

/** How often a holder proves it is alive. */
export const HEARTBEAT_MS = 10_000;
/**
 * A holder on another host whose heartbeat is older than this is dead. Well above HEARTBEAT_MS
 * and NFS's attribute cache (acregmax, 60 s by default), which can delay a new mtime that long.
 */
export const STALE_MS = 150_000;

export interface HolderInfo {
  host: string;
  pid: number;
  /** Process start time in clock ticks (Linux), 0 when unknown. */
  start: number;
  /** The job being computed (locks) or the pipeline (run registrations). */
  what: string;
  since: string;
  nonce: string;
}

/** A file this process keeps alive by rewriting its first bytes. */
interface Heartbeat {
  path: string;
  bytes: Uint8Array;
  /** Set when the file was found gone: another process judged this one dead. */
  lost: boolean;
}

const beating = new Set<Heartbeat>();
let timer: ReturnType<typeof setInterval> | null = null;

function startBeating(beat: Heartbeat): void {
  beating.add(beat);
  if (timer === null) {
    const interval = setInterval(beatAll, HEARTBEAT_MS);
    // The heartbeat alone must not keep the process alive.
    Deno.unrefTimer(interval);
    timer = interval;
  }
}

function stopBeating(beat: Heartbeat): void {
  beating.delete(beat);
  if (beating.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

/** Rewrites every held lock and registration now (the timer does it every HEARTBEAT_MS). */
export function beatAll(): void {
  for (const beat of beating) {
    try {
      // Same bytes at offset 0: the content never changes, the mtime does (on the server).
      using file = Deno.openSync(beat.path, { write: true });
      file.writeSync(beat.bytes);
    } catch {
      beat.lost = true;
      beating.delete(beat);
    }
  }
}

function newHolder(what: string): HolderInfo {
  return {
    host: HOST,
    pid: Deno.pid,
    start: PROCESS_START,
    what,
    since: new Date().toISOString(),
    nonce: crypto.randomUUID(),
  };
}

function parseHolder(text: string): HolderInfo | null {
  try {
    const value = JSON.parse(text.slice(0, text.indexOf("\n") + 1 || undefined));
    if (typeof value?.host === "string" && typeof value.pid === "number") return value;
  } catch {
    // Being written, or not a lock.
  }
  return null;
}

export interface LockOptions {
  /** See STALE_MS. */
  staleMs?: number;
}

/** A lock this process holds. */
export interface HeldLock {
  key: string;
  path: string;
  holder: HolderInfo;
  /** True when another process took the lock over, judging this one dead. */
  readonly lost: boolean;
}

/** The lock, or who holds it (null: a holder whose file is still being written). */
export type LockAttempt = { held: HeldLock } | { holder: HolderInfo | null };

export class Locks {
  readonly dir: string;
  readonly staleMs: number;
  private clock: { at: number; serverMs: number } | null = null;

  constructor(dir: string, options: LockOptions = {}) {
    this.dir = dir;
    this.staleMs = options.staleMs ?? STALE_MS;
  }

  pathOf(key: string): string {
    return join(this.dir, `${key}.lock`);
  }

  /** Takes the lock on `key` if it is free or its holder is dead; else says who holds it. */
  async tryAcquire(key: string, what: string): Promise<LockAttempt> {
    const path = this.pathOf(key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const holder = newHolder(what);
      const bytes = new TextEncoder().encode(JSON.stringify(holder) + "\n");
      // Written whole under a name of its own, then linked into place: link() fails when the lock
      // exists (exclusive, atomic on NFS too), and a lock file is never seen half written.
      const temp = `${path}.${holder.nonce}.tmp`;
      await Deno.writeFile(temp, bytes);
      try {
        await Deno.link(temp, path);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        const current = await this.liveHolder(path);
        if (current.alive) return { holder: current.holder };
        await this.takeOver(path, current.holder);
        continue;
      } finally {
        await Deno.remove(temp).catch(() => {});
      }
      return { held: this.hold(key, path, holder, bytes) };
    }
    return { holder: (await this.liveHolder(path)).holder };
  }

  /**
   * Waits until the lock on `key` is ours. `onWait` is told once who holds it; `signal` stops the
   * wait (the promise rejects with the signal's reason).
   */
  async acquire(
    key: string,
    what: string,
    options: { signal?: AbortSignal; onWait?: (holder: HolderInfo | null) => void } = {},
  ): Promise<HeldLock> {
    let told = false;
    let delay = 100;
    while (true) {
      options.signal?.throwIfAborted();
      const attempt = await this.tryAcquire(key, what);
      if ("held" in attempt) return attempt.held;
      if (!told) {
        options.onWait?.(attempt.holder);
        told = true;
      }
      await sleep(delay, options.signal);
      delay = Math.min(1000, delay * 2);
    }
  }

  /** Releases a lock this process holds (a lock taken over meanwhile is left to its new holder). */
  async release(lock: HeldLock): Promise<void> {
    const internal = lock as InternalLock;
    internal.dispose();
    if (internal.lost) return;
    const current = await readHolder(lock.path);
    if (current?.nonce === lock.holder.nonce) await Deno.remove(lock.path).catch(() => {});
  }

  /** The live holder of `key`'s lock, or null when it is free or its holder is dead. */
  async holderOf(key: string): Promise<HolderInfo | null> {
    const found = await this.liveHolder(this.pathOf(key));
    return found.alive ? found.holder : null;
  }

  /** Whether a live process holds `key`'s lock (one whose lock file is still being written too). */
  async isHeld(key: string): Promise<boolean> {
    return (await this.liveHolder(this.pathOf(key))).alive;
  }

  /**
   * Whether the holder recorded in `path` (a lock or a run registration) is alive. A file that
   * cannot be parsed is being written: alive while fresh.
   */
  async liveHolder(path: string): Promise<{ alive: boolean; holder: HolderInfo | null }> {
    let info: Deno.FileInfo;
    let text: string;
    try {
      info = await Deno.stat(path);
      text = await Deno.readTextFile(path);
    } catch {
      return { alive: false, holder: null };
    }
    const holder = parseHolder(text);
    if (holder !== null && holder.host === HOST) {
      return { alive: processAlive(holder.pid, holder.start), holder };
    }
    const age = (await this.serverNow()) - (info.mtime?.getTime() ?? 0);
    return { alive: age < this.staleMs, holder };
  }

  /** Now, on the clock of the file server holding this folder. */
  private async serverNow(): Promise<number> {
    const local = Date.now();
    if (this.clock !== null && local - this.clock.at < 1000) {
      return this.clock.serverMs + (local - this.clock.at);
    }
    const probe = join(this.dir, `.clock.${HOST}.${Deno.pid}`);
    try {
      await Deno.writeTextFile(probe, "");
      const serverMs = (await Deno.stat(probe)).mtime?.getTime() ?? local;
      this.clock = { at: local, serverMs };
      return serverMs;
    } catch {
      return local;
    } finally {
      await Deno.remove(probe).catch(() => {});
    }
  }

  /** Moves a dead holder's file out of the way; puts it back if it turned out to be live. */
  private async takeOver(path: string, dead: HolderInfo | null): Promise<void> {
    const aside = `${path}.dead-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.rename(path, aside);
    } catch {
      return; // someone else took it over, or it was released
    }
    const moved = await readHolder(aside);
    if (dead !== null && moved !== null && moved.nonce !== dead.nonce) {
      // Between our check and the rename a new holder took the place: give it back.
      await Deno.link(aside, path).catch(() => {});
    }
    await Deno.remove(aside).catch(() => {});
  }

  private hold(key: string, path: string, holder: HolderInfo, bytes: Uint8Array): HeldLock {
    const beat: Heartbeat = { path, bytes, lost: false };
    startBeating(beat);
    const unregister = onAbruptExit({ kind: "owned", path, nonce: holder.nonce });
    const lock: InternalLock = {
      key,
      path,
      holder,
      get lost() {
        return beat.lost;
      },
      dispose() {
        stopBeating(beat);
        unregister();
      },
    };
    return lock;
  }
}

interface InternalLock extends HeldLock {
  dispose(): void;
}

async function readHolder(path: string): Promise<HolderInfo | null> {
  try {
    return parseHolder(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timeout);
      signal?.removeEventListener("abort", stop);
    };
    const timeout = setTimeout(() => {
      done();
      resolve();
    }, ms);
    const stop = () => {
      done();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", stop, { once: true });
  });
}

/**
 * A running pipeline's registration: every artifact key it has used or is about to write, so
 * that `cache gc` leaves them alone while it runs. Keys are registered before the artifact is
 * looked up or written.
 */
export class RunLease {
  readonly path: string;
  private readonly beat: Heartbeat;
  private readonly unregister: () => void;
  private readonly keys = new Set<string>();
  private readonly file: Deno.FsFile;

  private constructor(path: string, bytes: Uint8Array, file: Deno.FsFile) {
    this.path = path;
    this.file = file;
    this.beat = { path, bytes, lost: false };
    startBeating(this.beat);
    this.unregister = onAbruptExit({ kind: "tree", path });
  }

  static async open(dir: string, what: string): Promise<RunLease> {
    const holder = newHolder(what);
    const path = join(dir, `${HOST}.${Deno.pid}.${holder.nonce.slice(0, 8)}.jsonl`);
    const bytes = new TextEncoder().encode(JSON.stringify(holder) + "\n");
    await Deno.writeFile(path, bytes, { createNew: true });
    const file = await Deno.open(path, { append: true });
    return new RunLease(path, bytes, file);
  }

  /**
   * Registers `keys` (those not registered yet) before they are read or written: one small
   * synchronous append, so that it is on disk before the caller goes on.
   */
  register(keys: Iterable<string>): void {
    const fresh = [...keys].filter((key) => !this.keys.has(key));
    if (fresh.length === 0) return;
    for (const key of fresh) this.keys.add(key);
    this.file.writeSync(new TextEncoder().encode(fresh.map((key) => `${key}\n`).join("")));
  }

  async close(): Promise<void> {
    stopBeating(this.beat);
    this.unregister();
    this.file.close();
    await Deno.remove(this.path).catch(() => {});
  }
}

/**
 * The keys registered by live runs in `dir`; registrations of dead runs are removed. Liveness is
 * judged as for locks (`locks.liveHolder`).
 */
export async function liveRunKeys(dir: string, locks: Locks): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const item of Deno.readDir(dir)) {
    if (!item.isFile || !item.name.endsWith(".jsonl")) continue;
    const path = join(dir, item.name);
    const { alive } = await locks.liveHolder(path);
    if (!alive) {
      await Deno.remove(path).catch(() => {});
      continue;
    }
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) if (/^[0-9a-f]{64}$/.test(line)) keys.add(line);
  }
  return keys;
}
