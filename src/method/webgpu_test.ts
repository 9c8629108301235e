import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compiledPipelines, countTransfers, useBackend } from "../clip/backend.ts";
import { disposeModel } from "../clip/model.ts";
import { needsWebgpu } from "../../tests/backends.ts";
import { microFewShotSet, microModel, microTrainOptions } from "../../tests/micro_clip.ts";
import { loadMethodConfig } from "./config.ts";
import { applyTaskDelta } from "./delta.ts";
import { trainTask } from "./train.ts";

Deno.test(
  "webgpu: trainTask's steps (expert pool, AGO, checkpointing) read back only the loss and the AGO term, and compile no pipeline after step 2",
  needsWebgpu(),
  async () => {
    await useBackend("webgpu");
    const model = microModel(2);
    const data = microFewShotSet();
    const method = loadMethodConfig("expert-pool");
    const first = await trainTask(model, data, microTrainOptions(method, { steps: 2 }));
    applyTaskDelta(model, first.delta);
    const before = tf.memory().numTensors;
    const readsAfter: number[] = [];
    const pipelinesAfter: number[] = [];
    const { result } = await countTransfers((running) =>
      trainTask(
        model,
        data,
        microTrainOptions(method, {
          steps: 5,
          history: [first.delta],
          onProgress: () => {
            readsAfter.push(running.reads);
            pipelinesAfter.push(compiledPipelines()!);
          },
        }),
      )
    );
    assert.equal(result.agoLosses.length, 5);
    assert.deepEqual(readsAfter, [2, 4, 6, 8, 10], "two reads a step: the loss and the AGO term");
    assert.equal(pipelinesAfter[4], pipelinesAfter[1], `pipelines: ${pipelinesAfter.join(" ")}`);
    assert.equal(tf.memory().numTensors, before);
    disposeModel(model);
    data.pixels.dispose();
    await useBackend("cpu");
  },
);
