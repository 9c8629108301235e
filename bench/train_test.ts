import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../src/clip/arch.ts";
import { useBackend } from "../src/clip/backend.ts";
import { needsWebgpu } from "../tests/backends.ts";
import { MICRO_ARCH } from "../tests/micro_clip.ts";
import { main as trainBench, measure } from "./train.ts";

/** The micro CLIP with a 20-token context: bench prompts end at position 14 and cut there. */
const MICRO_20: ClipArch = {
  ...MICRO_ARCH,
  name: "test-micro-20",
  text: { ...MICRO_ARCH.text, contextLength: 20 },
};

Deno.test("bench/train --quick writes the step, its full-context twin, transfers per step and peak memory (wasm)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/train.json`;
    assert.equal(await trainBench(["--quick", "--backends", "wasm", "--out", out]), 0);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.bench, "train");
    assert.deepEqual(report.failed, []);
    const [result] = report.results;
    assert.equal(`${result.backend}/${result.arch}/${result.batch}`, "wasm/clip-tiny/4");
    assert.deepEqual([result.textPositions, result.contextLength], [15, 20]);
    assert.ok(result.stepMs > 0 && result.fullContext.stepMs > 0 && result.peakMiB > 0);
    assert.ok(result.backendMiB > 0, "the wasm heap");
    // The loss and the AGO term read back; scalars written to the heap (dropout masks are not).
    assert.equal(result.transfers.reads, 2);
    assert.ok(result.transfers.writeBytes > 0);
    assert.equal(result.pipelines, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench/train rejects a malformed --cases with exit code 2", async () => {
  assert.equal(await trainBench(["--cases", "ViT-B-16"]), 2);
  assert.equal(await trainBench(["--cases", "ViT-B-16:0"]), 2);
});

Deno.test(
  "webgpu: the benchmarked step (expert pool, AGO, checkpointing, cut text) reads back only the loss and the AGO term, compiles nothing after two steps, and records the buffer pool",
  needsWebgpu(),
  async () => {
    await useBackend("webgpu");
    const before = tf.memory().numTensors;
    const result = await measure("webgpu", { arch: MICRO_20, batch: 4 }, 1);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(result.transfers.reads, 2);
    // Host writes: scalars and the small tensors tfjs-webgpu computes on the host; no masks.
    assert.ok(result.transfers.writeBytes! > 0);
    assert.ok(result.pipelines!.afterWarmup > 0);
    assert.equal(result.pipelines!.afterSteps, result.pipelines!.afterWarmup);
    assert.ok(result.backendMiB! > 0 && result.peakMiB > 0);
    assert.match(result.adapter!, /\w/);
    assert.equal(result.textPositions, 15);
    await useBackend("cpu");
  },
);
