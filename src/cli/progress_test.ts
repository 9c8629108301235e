import assert from "node:assert/strict";
import type { JobResult } from "../runner/types.ts";
import { createProgressDisplay, formatDuration } from "./progress.ts";

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

Deno.test("plain display prints throttled progress lines with rate and ETA", () => {
  let clock = 0;
  const out: string[] = [];
  const display = createProgressDisplay({
    tty: false,
    write: (text) => out.push(text),
    now: () => clock,
    throttleMs: 5000,
  });
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
    clock += 250; // 4 it/s
    display.jobProgress("train/task-03-DTD", step, 500);
  }
  display.jobLog("train/task-03-DTD", "loss 0.5");
  clock += 1000;
  display.jobEnd(result("train/task-03-DTD", "ran", 31), { index: 2, total: 2 });
  display.end({ results: [], ran: 1, cached: 1, seconds: 31.5 });
  assert.deepEqual(out, [
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
