/**
 * Full-shot runs (`benchmark.shots: 0`) stream their training images: the fewshot job lists the
 * split without pixels, the train job reads the data and crops anew every epoch. Checked through
 * the CLI on the tiny pipeline, on the job graph, and on `trainTask` with a streamed source.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../src/clip/backend.ts";
import { disposeModel } from "../src/clip/model.ts";
import { readNpy } from "../src/io/npy.ts";
import { loadMethodConfig } from "../src/method/config.ts";
import { type StreamedImages, trainTask } from "../src/method/train.ts";
import { cli, exists, ranCount, REPO, sandbox, TINY } from "./cli_sandbox.ts";
import {
  MICRO_CLASSES,
  MICRO_LABELS,
  microModel,
  microPixels,
  microTrainOptions,
} from "./micro_clip.ts";
import { buildRunGraph } from "../src/plan/build.ts";
import { compileSpec } from "../src/spec/mod.ts";

const FULL_SHOT = ["--set", "benchmark.shots=0"];

/** The artifact folder of each job of `kind`, by job id, from the cache's index. */
async function artifactsOf(cache: string, kind: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for await (const entry of Deno.readDir(`${cache}/index`)) {
    const index = JSON.parse(await Deno.readTextFile(`${cache}/index/${entry.name}`));
    if (index.kind === kind) found.set(index.jobId, `${cache}/artifacts/${index.key}`);
  }
  return found;
}

Deno.test("a full-shot tiny run finishes through the CLI; its fewshot artifacts hold no images and training streams", async () => {
  const box = await sandbox("rankone-full-shot-");
  const root = box.root;
  try {
    const first = await cli(box, ["run", TINY, ...FULL_SHOT]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(ranCount(first.stdout), 24);
    const matrix = await Deno.readTextFile(`${root}/results/tiny/default/accuracy_matrix.csv`);
    assert.equal(matrix.trim().split("\n").length, 4); // header, zero-shot, two tasks

    const fewshots = await artifactsOf(box.cache, "fewshot");
    assert.deepEqual([...fewshots.keys()].sort(), [
      "fewshot/task-01-DTD",
      "fewshot/task-02-EuroSAT",
    ]);
    for (const [id, artifact] of fewshots) {
      const files = [];
      for await (const entry of Deno.readDir(`${artifact}/data/images`)) files.push(entry.name);
      assert.deepEqual(files.sort(), ["indices.npy", "labels.npy", "meta.json"], id);
      const meta = JSON.parse(await Deno.readTextFile(`${artifact}/data/images/meta.json`));
      assert.equal(meta.hasImages, false, id);
      // The whole train split, in split order (DTD's synthetic copy: 3 classes x 6 images).
      const indices = await readNpy(`${artifact}/data/images/indices.npy`);
      assert.deepEqual(Array.from(indices.data as Int32Array), [...Array(meta.count).keys()], id);
      if (id.endsWith("DTD")) assert.equal(meta.count, 18);
      assert.equal(JSON.parse(await Deno.readTextFile(`${artifact}/manifest.json`)).version, 2);
    }
    for (const [id, artifact] of await artifactsOf(box.cache, "train")) {
      const log = await Deno.readTextFile(`${artifact}/log.txt`);
      assert.match(log, /: \d+ images \(streamed, cropped anew every epoch\)/, id);
      const losses = JSON.parse(await Deno.readTextFile(`${artifact}/data/losses.json`));
      assert.equal(losses.loss.length, 7, id);
      assert.ok(losses.loss.every(Number.isFinite), id);
    }

    const again = await cli(box, ["run", TINY, ...FULL_SHOT]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(ranCount(again.stdout), 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  assert.equal(await exists(root), false);
});

Deno.test("only full-shot train jobs take the data as input; few-shot train jobs do not", async () => {
  const cwd = REPO;
  const fewShot = await buildRunGraph(compileSpec(TINY, { cwd }).runs[0]!);
  const fullShot = await buildRunGraph(
    compileSpec(TINY, { cwd, set: ["benchmark.shots=0"] }).runs[0]!,
  );
  const train = (jobs: typeof fewShot.jobs) => jobs.find((job) => job.id === "train/task-01-DTD")!;
  assert.deepEqual(Object.keys(train(fewShot.jobs).inputs).sort(), ["fewshot", "model"]);
  assert.equal((train(fewShot.jobs).params as Record<string, unknown>).data, null);
  assert.deepEqual(Object.keys(train(fullShot.jobs).inputs).sort(), ["data", "fewshot", "model"]);
  assert.deepEqual((train(fullShot.jobs).params as Record<string, unknown>).data, {
    root: null,
  });
  const fewshotVersion = (jobs: typeof fewShot.jobs) =>
    jobs.find((job) => job.id === "fewshot/task-01-DTD")!.version;
  assert.equal(fewshotVersion(fewShot.jobs), 1);
  assert.equal(fewshotVersion(fullShot.jobs), 2);
});

// ---- trainTask on a streamed source --------------------------------------------------------------

Deno.test("trainTask on a streamed source equals training on the same pixels in memory; each prefetch is the next batch of its epoch", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const held = microPixels();
  const before = tf.memory().numTensors;
  const calls: string[] = [];
  const streamed: StreamedImages = {
    labels: MICRO_LABELS,
    classNames: MICRO_CLASSES,
    batch(indices, epoch) {
      calls.push(`batch ${epoch}:${indices.join(",")}`);
      return Promise.resolve(tf.tidy(() => tf.gather(held, tf.tensor1d([...indices], "int32"))));
    },
    prefetch(indices, epoch) {
      calls.push(`prefetch ${epoch}:${indices.join(",")}`);
    },
  };
  const options = microTrainOptions(loadMethodConfig("expert-pool"), { steps: 7, iterations: 6 });
  const fromStream = await trainTask(model, streamed, options);
  assert.equal(tf.memory().numTensors, before);
  const inMemory = await trainTask(model, {
    pixels: held,
    labels: MICRO_LABELS,
    classNames: MICRO_CLASSES,
  }, {
    ...options,
  });
  assert.deepEqual(fromStream.losses, inMemory.losses);

  // 12 images, batches of 4: 3 per epoch. Steps 0, 1 | 3, 4 prefetch the next batch of their
  // epoch; the last batch of an epoch and the last step prefetch nothing.
  const batches = calls.filter((call) => call.startsWith("batch"));
  const prefetches = calls.filter((call) => call.startsWith("prefetch"));
  assert.equal(batches.length, 7);
  assert.equal(prefetches.length, 4);
  calls.forEach((call, i) => {
    if (call.startsWith("prefetch")) assert.equal(calls[i + 1], call.replace("prefetch", "batch"));
  });
  assert.deepEqual(batches.map((call) => call.split(/[ :]/)[1]), [
    "0",
    "0",
    "0",
    "1",
    "1",
    "1",
    "2",
  ]);
  held.dispose();
  disposeModel(model);
});
