import assert from "node:assert/strict";
import { forEachConcurrent } from "./concurrent.ts";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("forEachConcurrent runs each of 10 tasks once, in index order, at most 3 in flight", async () => {
  const started: number[] = [];
  let inFlight = 0;
  let most = 0;
  await forEachConcurrent(10, async (index) => {
    started.push(index);
    most = Math.max(most, ++inFlight);
    await tick(index % 3);
    inFlight -= 1;
  }, { concurrency: 3 });
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(most, 3);
  // No tasks: resolves at once; a concurrency of 0 still runs one at a time.
  await forEachConcurrent(0, () => Promise.reject(new Error("never")), { concurrency: 4 });
  const one: number[] = [];
  await forEachConcurrent(2, (index) => Promise.resolve(void one.push(index)), { concurrency: 0 });
  assert.deepEqual(one, [0, 1]);
});

Deno.test("a failing task stops new ones and rejects only after the tasks in flight settle", async () => {
  const finished: number[] = [];
  const started: number[] = [];
  await assert.rejects(
    forEachConcurrent(8, async (index) => {
      started.push(index);
      if (index === 1) throw new Error("task 1 failed");
      await tick(20);
      finished.push(index);
    }, { concurrency: 2 }),
    /task 1 failed/,
  );
  // Task 0 was in flight when task 1 failed: it finished before the rejection; task 2 never ran.
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(finished, [0]);
});

Deno.test("an aborted signal starts no task and rejects with the AbortError", async () => {
  const controller = new AbortController();
  controller.abort();
  let ran = 0;
  await assert.rejects(
    forEachConcurrent(3, () => Promise.resolve(void ran++), {
      concurrency: 2,
      signal: controller.signal,
    }),
    (error: unknown) => (error as Error).name === "AbortError",
  );
  assert.equal(ran, 0);
});
