import assert from "node:assert/strict";
import { ResourcePool } from "./resources.ts";

/** A pool whose values are names, with a log of what was opened and closed, in order. */
function watchedPool() {
  const pool = new ResourcePool();
  const events: string[] = [];
  const use = (lease: ReturnType<ResourcePool["lease"]>, key: string, slot?: string) =>
    lease.use(key, () => {
      events.push(`open ${key}`);
      return Promise.resolve(key);
    }, { close: (value) => void events.push(`close ${value}`), slot });
  return { pool, events, use };
}

Deno.test("a value is opened once for every job that asks for it, and freed when the run ends", async () => {
  const { pool, events, use } = watchedPool();
  for (const job of ["head", "evaluate", "train"]) {
    const lease = pool.lease();
    assert.equal(await use(lease, "state-1", "model-state"), "state-1", job);
    assert.equal(await use(lease, "tokenizer"), "tokenizer", job);
    await lease.release();
  }
  assert.deepEqual(events, ["open state-1", "open tokenizer"]);
  assert.deepEqual(pool.keys.sort(), ["state-1", "tokenizer"]);
  await pool.dispose();
  assert.deepEqual(events.slice(2).sort(), ["close state-1", "close tokenizer"]);
  assert.deepEqual(pool.keys, []);
  await assert.rejects(() => use(pool.lease(), "late"), /after the run ended/);
});

Deno.test("the next value of a slot frees the previous one before it opens; values without a slot stay", async () => {
  const { pool, events, use } = watchedPool();
  for (const state of ["state-0", "state-1", "state-2"]) {
    const lease = pool.lease();
    await use(lease, state, "model-state");
    await use(lease, "tokenizer");
    await lease.release();
  }
  assert.deepEqual(events, [
    "open state-0",
    "open tokenizer",
    "close state-0",
    "open state-1",
    "close state-1",
    "open state-2",
  ]);
  assert.deepEqual(pool.keys.sort(), ["state-2", "tokenizer"]);
  await pool.dispose();
});

Deno.test("a value a running job holds is not freed when its slot moves on: it goes when that job ends", async () => {
  const { pool, events, use } = watchedPool();
  const first = pool.lease();
  const second = pool.lease();
  await use(first, "state-1", "model-state");
  await use(second, "state-2", "model-state"); // jobs running at once, on two states
  assert.deepEqual(events, ["open state-1", "open state-2"]);
  // A third job on state-1 while it is still held keeps it too.
  const third = pool.lease();
  assert.equal(await use(third, "state-1", "model-state"), "state-1");
  await first.release();
  assert.deepEqual(events, ["open state-1", "open state-2"]);
  await third.release();
  assert.deepEqual(events, ["open state-1", "open state-2", "close state-1"]);
  await second.release();
  assert.deepEqual(pool.keys, ["state-2"]);
  await pool.dispose();
  assert.deepEqual(events.at(-1), "close state-2");
});

Deno.test("a value that fails to open is not kept: the next job opens it again", async () => {
  const pool = new ResourcePool();
  let attempts = 0;
  const open = () => {
    attempts++;
    return attempts === 1 ? Promise.reject(new Error("no weights")) : Promise.resolve("model");
  };
  const close = () => {};
  await assert.rejects(() => pool.lease().use("state", open, { close }), /no weights/);
  assert.deepEqual(pool.keys, []);
  assert.equal(await pool.lease().use("state", open, { close }), "model");
  assert.equal(attempts, 2);
  await pool.dispose();
});

Deno.test("two jobs asking for the same value at once share one opening", async () => {
  const pool = new ResourcePool();
  let opened = 0;
  const open = async () => {
    opened++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { id: opened };
  };
  const [a, b] = await Promise.all([
    pool.lease().use("state", open, { close() {} }),
    pool.lease().use("state", open, { close() {} }),
  ]);
  assert.equal(opened, 1);
  assert.equal(a, b);
  await pool.dispose();
});
