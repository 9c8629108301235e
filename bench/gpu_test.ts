import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../src/clip/backend.ts";
import { needsWebgpu } from "../tests/backends.ts";
import { needsShared } from "../tests/shared.ts";
import { main as gpuBench } from "./gpu.ts";

Deno.test(
  "bench/gpu --reduced writes the adapter (software marked), TF.js webgpu parity within 1e-4, images/s and the training step with its peak, and fails on nothing",
  { ignore: needsWebgpu().ignore || needsShared("fixtures/clip-tiny").ignore },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const before = tf.memory().numTensors;
      const out = `${dir}/gpu.json`;
      assert.equal(await gpuBench(["--reduced", "--out", out]), 0);
      assert.equal(tf.memory().numTensors, before);
      const report = JSON.parse(await Deno.readTextFile(out));
      assert.equal(report.bench, "gpu");
      assert.deepEqual(report.failed, []);
      assert.match(report.adapter.description, /\w/);
      // CI's adapter is Mesa's lavapipe: the report must say its figures are not a GPU's.
      assert.equal(report.adapter.software, /llvmpipe|lavapipe/i.test(report.adapter.description));
      const tfjs = report.parity.find((check: { engine: string }) => check.engine === "tfjs");
      assert.equal(tfjs.device, "webgpu");
      assert.ok(tfjs.imageError <= 1e-4 && tfjs.textError <= 1e-4 && tfjs.ok);
      const [encode] = report.encode;
      assert.equal(`${encode.engine}/${encode.device}/${encode.arch}`, "tfjs/webgpu/clip-tiny");
      assert.ok(encode.imagesPerSecond > 0);
      const { train } = report;
      assert.equal(`${train.backend}/${train.arch}/${train.batch}`, "webgpu/clip-tiny/4");
      assert.ok(train.stepMs > 0 && train.peakMiB > 0 && train.backendMiB > 0);
      assert.equal(report.trainStepsPerSecond, 1000 / train.stepMs);
      // Each step reads back the loss and the AGO term only, and compiles nothing new.
      assert.equal(train.transfers.reads, 2);
      assert.equal(train.pipelines.afterSteps, train.pipelines.afterWarmup);
      assert.deepEqual(Object.keys(report.seconds), ["parity", "encode", "train"]);
    } finally {
      await useBackend("cpu");
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("bench/gpu rejects a bad --reps with exit code 2", async () => {
  assert.equal(await gpuBench(["--reps", "0"]), 2);
  assert.equal(await gpuBench(["--unknown"]), 2);
});
