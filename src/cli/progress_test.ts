import assert from "node:assert/strict";
import type { JobResult } from "../runner/types.ts";
import { createHashProgress, createProgressDisplay, formatDuration } from "./progress.ts";

function result(id: string, status: "ran" | "cached", seconds: number): JobResult {
  return {
    id,
    kind: "k",
    status,
    key: "k".repeat(64),
    digest: "abcdef0123456789",
    dir: "/x",
    seconds,
    runSeconds: seconds,
  };
}

/** A plain (non-terminal) display on a clock the test moves, its lines in `fake.out`. */
function plainDisplay() {
  const fake = { clock: 0, out: [] as string[] };
  const display = createProgressDisplay({
    tty: false,
    write: (text) => fake.out.push(text),
    now: () => fake.clock,
    throttleMs: 5000,
  });
  return { display, fake };
}

Deno.test("plain display prints throttled progress lines with rate and ETA", () => {
  const { display, fake } = plainDisplay();
  display.begin(["load", "train/task-03-DTD"]);
  display.jobEnd(result("load", "cached", 0.01), { index: 1, total: 2 });
  display.jobStart("train/task-03-DTD", {
    index: 2,
    total: 2,
    reason: "PARAMS",
    detail: "lr: 1 -> 2",
  });
  display.jobProgress("train/task-03-DTD", 0, 500);
  for (let step = 1; step <= 120; step++) {
    fake.clock += 250; // 4 it/s
    display.jobProgress("train/task-03-DTD", step, 500);
  }
  display.jobLog("train/task-03-DTD", "loss 0.5");
  fake.clock += 1000;
  display.jobEnd(result("train/task-03-DTD", "ran", 31), { index: 2, total: 2 });
  display.end({ results: [], ran: 1, cached: 1, seconds: 31.5 });
  assert.deepEqual(fake.out, [
    "[2/2] train/task-03-DTD: run (PARAMS: lr: 1 -> 2)\n",
    "[2/2] train/task-03-DTD: 0/500 it\n",
    "[2/2] train/task-03-DTD: 20/500 it, 4.0 it/s, ETA 2m00s\n",
    "[2/2] train/task-03-DTD: 40/500 it, 4.0 it/s, ETA 1m55s\n",
    "[2/2] train/task-03-DTD: 60/500 it, 4.0 it/s, ETA 1m50s\n",
    "[2/2] train/task-03-DTD: 80/500 it, 4.0 it/s, ETA 1m45s\n",
    "[2/2] train/task-03-DTD: 100/500 it, 4.0 it/s, ETA 1m40s\n",
    "[2/2] train/task-03-DTD: 120/500 it, 4.0 it/s, ETA 1m35s\n",
    "[2/2] train/task-03-DTD: loss 0.5\n",
    "[2/2] train/task-03-DTD: done in 31.0s (abcdef012345)\n",
    "finished: 1 ran, 1 cached in 31.5s\n",
  ]);
});

Deno.test("terminal display redraws a live block in place with a progress bar", () => {
  let clock = 0;
  let out = "";
  const display = createProgressDisplay({
    tty: true,
    write: (text) => (out += text),
    now: () => clock,
    columns: 100,
  });
  display.begin(["a"]);
  display.jobStart("a", { index: 1, total: 1, reason: "MISSING", detail: "never run" });
  clock += 1000;
  display.jobProgress("a", 0, 10);
  clock += 1000;
  display.jobProgress("a", 5, 10);
  assert.ok(out.includes("\x1b[")); // cursor movement: the block is redrawn, not appended
  assert.ok(out.includes("██████████████████████████████".slice(0, 15) + "░"));
  assert.ok(out.includes("5/10 it, 5.0 it/s, ETA 1.0s"));
  assert.ok(out.includes("rankone 1/1 jobs · 0 ran · 0 cached · 2.0s"));
});

Deno.test("formatDuration writes seconds, minutes and hours compactly", () => {
  assert.deepEqual([0.42, 12.34, 93, 7500].map(formatDuration), [
    "0.4s",
    "12.3s",
    "1m33s",
    "2h05m",
  ]);
});

Deno.test("first-sight hashing shows a throttled progress line for a large source only", () => {
  let clock = 0;
  const out: string[] = [];
  const progress = createHashProgress({
    tty: false,
    write: (text) => out.push(text),
    now: () => clock,
  });
  const MiB = 1024 * 1024;
  progress({ path: "/data/small", done: 10, total: 10, bytes: MiB, totalBytes: MiB });
  assert.deepEqual(out, []);
  const big = { path: "/data/mtil/sun397", total: 100_000, totalBytes: 4000 * MiB };
  clock = 10_000;
  progress({ ...big, done: 500, bytes: 20 * MiB });
  clock = 12_000;
  progress({ ...big, done: 1000, bytes: 40 * MiB }); // within 5 s of the last line: skipped
  clock = 20_000;
  progress({ ...big, done: 25_000, bytes: 1000 * MiB });
  clock = 50_000;
  progress({ ...big, done: 100_000, bytes: 4000 * MiB });
  assert.deepEqual(out, [
    "hashing /data/mtil/sun397: 500/100000 files, 20/4000 MiB, ETA ?\n",
    "hashing /data/mtil/sun397: 25000/100000 files, 1000/4000 MiB, ETA 30.0s\n",
    "hashing /data/mtil/sun397: 100000/100000 files, 4000/4000 MiB in 40.0s\n",
  ]);
});

Deno.test("with several jobs running at once, each line carries its own job's label and progress", () => {
  const { display, fake } = plainDisplay();
  display.begin(["a", "b"]);
  display.jobStart("a", { index: 1, total: 2, reason: "MISSING", detail: "never run" });
  display.jobStart("b", { index: 2, total: 2, reason: "MISSING", detail: "never run" });
  display.jobProgress("a", 1, 10);
  display.jobProgress("b", 1, 4);
  fake.clock += 1000;
  display.jobProgress("a", 2, 10); // throttled: a line for `a` 1 s ago
  display.jobLog("b", "loss 0.5");
  display.jobEnd(result("b", "ran", 1), { index: 2, total: 2 });
  display.jobLog("a", "still here");
  assert.deepEqual(fake.out, [
    "[1/2] a: run (MISSING: never run)\n",
    "[2/2] b: run (MISSING: never run)\n",
    "[1/2] a: 1/10 it\n",
    "[2/2] b: 1/4 it\n",
    "[2/2] b: loss 0.5\n",
    "[2/2] b: done in 1.0s (abcdef012345)\n",
    "[1/2] a: still here\n",
  ]);
});

Deno.test("the terminal block shows every running job's bar", () => {
  let out = "";
  const display = createProgressDisplay({ tty: true, write: (text) => (out = text), columns: 100 });
  display.begin(["a", "b"]);
  display.jobStart("a", { index: 1, total: 2, reason: "MISSING", detail: "never run" });
  display.jobStart("b", { index: 2, total: 2, reason: "MISSING", detail: "never run" });
  display.jobProgress("b", 4, 4);
  assert.match(out, /▸ \[1\/2\] a\n.*0\/0 it\n.*▸ \[2\/2\] b\n.*4\/4 it/s);
  assert.match(out, /rankone 2\/2 jobs · 0 ran · 0 cached/);
});
