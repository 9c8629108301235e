import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { InputArtifact, JobContext, JobResources } from "../../cache/job.ts";
import type { Manifest } from "../../cache/manifest.ts";
import { useBackend } from "../../clip/backend.ts";
import { ResourcePool } from "../../runner/resources.ts";
import { quietJobContext } from "../../../tests/job_context.ts";
import { withTempDir } from "../../../tests/temp_dir.ts";
import {
  inferenceSetting,
  modelDescriptor,
  modelState,
  stateEncoder,
  tokenizerFor,
} from "./context.ts";
import { STAGE_RUNNERS, STAGES } from "../mod.ts";

/** A job's context whose only input is `model` (the artifact in `dir`, named by `digest`). */
function context(
  resources: JobResources,
  model: { dir: string; digest: string },
  inference: { engine: string; device: string } | null = null,
): JobContext {
  const artifact: InputArtifact = { ...model, manifest: {} as Manifest };
  return quietJobContext("head/after-00/DTD", {
    outDir: "/nonexistent",
    resources,
    inputs: { model: artifact },
    inference,
  });
}

/** The generated tiny CLIP's `model` artifact in `dir`. */
async function writeTinyModel(dir: string): Promise<void> {
  const job = STAGES.model.job("model", {
    model: { source: "synthetic", preset: "clip-tiny", seed: 0, tokenizer: null },
  });
  const pool = new ResourcePool();
  const ctx = { ...context(pool.lease(), { dir, digest: "" }), inputs: {}, outDir: dir };
  await STAGE_RUNNERS.model.run(ctx, job.params);
}

Deno.test("the head and evaluate jobs of a state share one model and one encoder; the next state frees them, the run's end frees the rest", async () => {
  await useBackend("wasm");
  await withTempDir("rankone-stage-resources-", async (dir) => {
    await writeTinyModel(dir);
    const before = tf.memory().numTensors;
    const pool = new ResourcePool();
    const state0 = { dir, digest: "digest-of-state-0" };
    const head = pool.lease();
    const headEncoder = await stateEncoder(context(head, state0));
    const headModel = await modelState(context(head, state0));
    await head.release();
    const evaluate = pool.lease();
    assert.equal(await stateEncoder(context(evaluate, state0)), headEncoder);
    assert.equal(await modelState(context(evaluate, state0)), headModel);
    await evaluate.release();
    const loaded = tf.memory().numTensors;
    assert.ok(loaded > before);

    // Another state (another digest) replaces it: one state's tensors in memory, not two.
    const next = pool.lease();
    const nextEncoder = await stateEncoder(context(next, { dir, digest: "digest-of-state-1" }));
    assert.notEqual(nextEncoder, headEncoder);
    assert.equal(tf.memory().numTensors, loaded);
    await next.release();
    await pool.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

Deno.test("the encoder follows the run's engine setting: tfjs asked for gives TF.js on the process's backend", async () => {
  await useBackend("wasm");
  await withTempDir("rankone-stage-engine-", async (dir) => {
    await writeTinyModel(dir);
    const pool = new ResourcePool();
    const ctx = context(pool.lease(), { dir, digest: "d" }, { engine: "tfjs", device: "auto" });
    const encoder = await stateEncoder(ctx);
    assert.equal(encoder.engine, "tfjs");
    assert.equal(encoder.device, "wasm");
    assert.equal(encoder.reason, "engine tfjs was asked for");
    // The tokenizer is the run's too: one per folder and content.
    const descriptor = await modelDescriptor(ctx);
    assert.equal(await tokenizerFor(ctx, descriptor), await tokenizerFor(ctx, descriptor));
    await pool.dispose();
  });
});

Deno.test("an unknown engine or device in the run's settings is a usage error naming the choices", () => {
  const ctx = context(new ResourcePool().lease(), { dir: "/x", digest: "d" }, {
    engine: "tensorrt",
    device: "auto",
  });
  assert.throws(
    () => inferenceSetting(ctx),
    (error: Error & { exitCode?: number }) =>
      /engine tensorrt on device auto: expected an engine of auto, onnx, tfjs/.test(
        error.message,
      ) && error.exitCode === 2,
  );
  const unset = context(new ResourcePool().lease(), { dir: "/x", digest: "d" });
  assert.deepEqual(inferenceSetting(unset), { engine: "auto", device: "auto" });
});
