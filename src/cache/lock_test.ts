import assert from "node:assert/strict";
import { join } from "node:path";
import { HOST, PROCESS_START } from "./host.ts";
import { beatAll, type HolderInfo, liveRunKeys, Locks, RunLease } from "./lock.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

const KEY = "ab".repeat(32);

function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("rankone-lock-test-", body);
}

/** Writes a lock file as another holder would, with its mtime `ageMs` in the past. */
async function foreignLock(path: string, holder: Partial<HolderInfo>, ageMs: number) {
  const info: HolderInfo = {
    host: "elsewhere",
    pid: 4242,
    start: 0,
    what: "train/task-01",
    since: new Date().toISOString(),
    nonce: crypto.randomUUID(),
    ...holder,
  };
  await Deno.writeTextFile(path, JSON.stringify(info) + "\n");
  const when = new Date(Date.now() - ageMs);
  await Deno.utime(path, when, when);
  return info;
}

Deno.test("a lock is exclusive: a second taker is told who holds it until it is released", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir);
    const first = await locks.tryAcquire(KEY, "job a");
    assert.ok("held" in first);
    const second = await locks.tryAcquire(KEY, "job b");
    assert.ok("holder" in second && second.holder !== null);
    assert.deepEqual([second.holder.host, second.holder.pid, second.holder.what], [
      HOST,
      Deno.pid,
      "job a",
    ]);
    assert.equal((await locks.holderOf(KEY))?.what, "job a");
    await locks.release(first.held);
    assert.equal(await locks.holderOf(KEY), null);
    const third = await locks.tryAcquire(KEY, "job c");
    assert.ok("held" in third);
    await locks.release(third.held);
  });
});

Deno.test("acquire waits for the holder, tells once who it waits for, and gets the lock on release", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir);
    const first = await locks.tryAcquire(KEY, "job a");
    assert.ok("held" in first);
    const waitedFor: string[] = [];
    const waiting = locks.acquire(KEY, "job b", { onWait: (h) => waitedFor.push(h?.what ?? "") });
    await new Promise((done) => setTimeout(done, 300));
    await locks.release(first.held);
    const second = await waiting;
    assert.deepEqual(waitedFor, ["job a"]);
    assert.equal(second.holder.what, "job b");
    await locks.release(second);
  });
});

Deno.test("a lock of a dead process on this host is taken over at once", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir);
    // A pid that no process has (above the kernel's pid_max), or ours with another start time.
    await foreignLock(locks.pathOf(KEY), { host: HOST, pid: 4_194_400 }, 0);
    const gone = await locks.tryAcquire(KEY, "job b");
    assert.ok("held" in gone, "dead pid");
    await locks.release(gone.held);
    await foreignLock(
      locks.pathOf(KEY),
      { host: HOST, pid: Deno.pid, start: PROCESS_START + 1 },
      0,
    );
    const reused = await locks.tryAcquire(KEY, "job c");
    assert.ok("held" in reused, "pid reused by a later process");
    await locks.release(reused.held);
  });
});

Deno.test("another host's lock is live while its heartbeat is fresh and taken over once it is stale", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir, { staleMs: 60_000 });
    const fresh = await foreignLock(locks.pathOf(KEY), {}, 5_000);
    const blocked = await locks.tryAcquire(KEY, "job b");
    assert.ok("holder" in blocked);
    assert.equal(blocked.holder?.nonce, fresh.nonce);
    await foreignLock(locks.pathOf(KEY), {}, 61_000);
    const taken = await locks.tryAcquire(KEY, "job b");
    assert.ok("held" in taken);
    assert.equal(taken.held.holder.host, HOST);
    // Released by its new holder, the file is gone; a release by the dead one would change nothing.
    await locks.release(taken.held);
    assert.equal(await locks.holderOf(KEY), null);
  });
});

Deno.test("a run registration lists its keys while alive; a dead one's keys are dropped with its file", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(join(dir, "locks"), { staleMs: 60_000 });
    await Deno.mkdir(locks.dir);
    const runs = join(dir, "runs");
    await Deno.mkdir(runs);
    const lease = await RunLease.open(runs, "tiny");
    lease.register([KEY, KEY, "cd".repeat(32)]);
    const dead = join(runs, "elsewhere.4242.deadbeef.jsonl");
    await foreignLock(dead, {}, 120_000);
    await Deno.writeTextFile(dead, `${"ef".repeat(32)}\n`, { append: true });
    const when = new Date(Date.now() - 120_000);
    await Deno.utime(dead, when, when);
    assert.deepEqual([...await liveRunKeys(runs, locks)].sort(), [KEY, "cd".repeat(32)]);
    assert.equal(await Deno.stat(dead).then(() => true, () => false), false);
    await lease.close();
    assert.deepEqual([...await liveRunKeys(runs, locks)], []);
  });
});

Deno.test("a held lock's heartbeat moves its mtime without changing its content", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir);
    const attempt = await locks.tryAcquire(KEY, "job a");
    assert.ok("held" in attempt);
    const path = attempt.held.path;
    const old = new Date(Date.now() - 600_000);
    await Deno.utime(path, old, old);
    const text = await Deno.readTextFile(path);
    beatAll();
    const mtime = (await Deno.stat(path)).mtime!.getTime();
    assert.ok(Date.now() - mtime < 60_000, `mtime ${new Date(mtime).toISOString()}`);
    assert.equal(await Deno.readTextFile(path), text);
    assert.equal(attempt.held.lost, false);
    await locks.release(attempt.held);
  });
});

Deno.test("a lock file still being written counts as held, by a holder not known yet", async () => {
  await withDir(async (dir) => {
    const locks = new Locks(dir);
    await Deno.writeTextFile(locks.pathOf(KEY), ""); // created, its line not written yet
    assert.deepEqual(await locks.tryAcquire(KEY, "job b"), { holder: null });
    const told: (HolderInfo | null)[] = [];
    const waiting = locks.acquire(KEY, "job b", { onWait: (holder) => told.push(holder) });
    await new Promise((done) => setTimeout(done, 200));
    await Deno.remove(locks.pathOf(KEY));
    const held = await waiting;
    assert.deepEqual(told, [null]);
    await locks.release(held);
  });
});
