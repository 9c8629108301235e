/**
 * Full-shot runs (`benchmark.shots: 0`) stream their training images: the fewshot job lists the
 * split without pixels, the train job reads the data and crops anew every epoch. Checked through
 * the CLI on the tiny pipeline, on the job graph, and on `trainTask` with a streamed source.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../src/clip/arch.ts";
import { useBackend } from "../src/clip/backend.ts";
import { buildModel, type ClipModel, disposeModel, parameterShapes } from "../src/clip/model.ts";
import { readNpy } from "../src/io/npy.ts";
import { SeededRng } from "../src/io/rng.ts";
import { loadMethodConfig } from "../src/method/config.ts";
import { type StreamedImages, trainTask } from "../src/method/train.ts";
import { buildRunGraph } from "../src/plan/build.ts";
import { compileSpec } from "../src/spec/mod.ts";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const TINY = fileURLToPath(new URL("./fixtures/pipelines/tiny.yaml", import.meta.url));
const REPO = fileURLToPath(new URL("..", import.meta.url));
const FULL_SHOT = ["--set", "benchmark.shots=0"];

async function cli(env: Record<string, string>, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function ranCount(stdout: string): number {
  const match = /^(\d+) jobs ran, (\d+) cached/m.exec(stdout);
  assert.ok(match, `no summary line in:\n${stdout}`);
  return Number(match[1]);
}

/** The artifact folder of each job of `kind`, by job id, from the cache's index. */
async function artifactsOf(cache: string, kind: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for await (const entry of Deno.readDir(`${cache}/index`)) {
    const index = JSON.parse(await Deno.readTextFile(`${cache}/index/${entry.name}`));
    if (index.kind === kind) found.set(index.jobId, `${cache}/artifacts/${index.key}`);
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a full-shot tiny run finishes through the CLI; its fewshot artifacts hold no images and training streams", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-full-shot-" });
  const env = { RANKONE_CACHE: `${root}/cache`, RANKONE_RESULTS: `${root}/results` };
  try {
    const first = await cli(env, ["run", TINY, ...FULL_SHOT]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(ranCount(first.stdout), 24);
    const matrix = await Deno.readTextFile(`${root}/results/tiny/default/accuracy_matrix.csv`);
    assert.equal(matrix.trim().split("\n").length, 4); // header, zero-shot, two tasks

    const fewshots = await artifactsOf(env.RANKONE_CACHE, "fewshot");
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
    for (const [id, artifact] of await artifactsOf(env.RANKONE_CACHE, "train")) {
      const log = await Deno.readTextFile(`${artifact}/log.txt`);
      assert.match(log, /: \d+ images \(streamed, cropped anew every epoch\)/, id);
      const losses = JSON.parse(await Deno.readTextFile(`${artifact}/data/losses.json`));
      assert.equal(losses.loss.length, 7, id);
      assert.ok(losses.loss.every(Number.isFinite), id);
    }

    const again = await cli(env, ["run", TINY, ...FULL_SHOT]);
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
  assert.equal((train(fewShot.jobs).params as Record<string, unknown>).data, undefined);
  assert.deepEqual(Object.keys(train(fullShot.jobs).inputs).sort(), ["data", "fewshot", "model"]);
  assert.deepEqual((train(fullShot.jobs).params as Record<string, unknown>).data, {
    root: "artifact:data",
  });
  const fewshotVersion = (jobs: typeof fewShot.jobs) =>
    jobs.find((job) => job.id === "fewshot/task-01-DTD")!.version;
  assert.equal(fewshotVersion(fewShot.jobs), 1);
  assert.equal(fewshotVersion(fullShot.jobs), 2);
});

// ---- trainTask on a streamed source --------------------------------------------------------------

/** A CLIP small enough to train for a few steps in a test: 5 image tokens, 5 text tokens. */
const ARCH: ClipArch = {
  name: "test-micro",
  embedDim: 8,
  vision: { imageSize: 8, patchSize: 4, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
  text: { contextLength: 5, vocabSize: 12, width: 16, layers: 1, heads: 2, mlpWidth: 32 },
};
const CLASSES = ["cat", "dog", "car", "cup"];
const LABELS = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];

function microModel(seed: number): ClipModel {
  const rng = new SeededRng(seed);
  const params = new Map<string, tf.Tensor>();
  for (const [name, shape] of parameterShapes(ARCH)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    const isNormWeight = /ln_\w+\.weight$/.test(name);
    for (let i = 0; i < size; i++) values[i] = isNormWeight ? 1 : rng.uniform(-0.3, 0.3);
    if (name === "logit_scale") values[0] = Math.log(10);
    params.set(name, tf.tensor(values, shape));
  }
  return buildModel(ARCH, params);
}

function tokenize(texts: string[]): Int32Array {
  const ids = new Int32Array(texts.length * ARCH.text.contextLength);
  texts.forEach((text, row) => {
    const word = CLASSES.findIndex((name) => text.includes(name));
    ids.set([10, word + 1, 11], row * ARCH.text.contextLength);
  });
  return ids;
}

/** [12, 3, 8, 8]: a class colour plus noise. */
function pixels(): tf.Tensor4D {
  const rng = new SeededRng(5);
  const values = new Float32Array(LABELS.length * 3 * 64);
  for (let i = 0; i < values.length; i++) {
    const label = LABELS[Math.floor(i / (3 * 64))]!;
    values[i] = ((label * 3 + Math.floor(i / 64) % 3) % 5) / 2 - 1 + rng.uniform(-0.2, 0.2);
  }
  return tf.tensor4d(values, [LABELS.length, 3, 8, 8]);
}

Deno.test("trainTask on a streamed source equals training on the same pixels in memory; each prefetch is the next batch of its epoch", async () => {
  await useBackend("cpu");
  const model = microModel(1);
  const held = pixels();
  const before = tf.memory().numTensors;
  const calls: string[] = [];
  const streamed: StreamedImages = {
    labels: LABELS,
    classNames: CLASSES,
    batch(indices, epoch) {
      calls.push(`batch ${epoch}:${indices.join(",")}`);
      return Promise.resolve(tf.tidy(() => tf.gather(held, tf.tensor1d([...indices], "int32"))));
    },
    prefetch(indices, epoch) {
      calls.push(`prefetch ${epoch}:${indices.join(",")}`);
    },
  };
  const options = {
    method: loadMethodConfig("expert-pool"),
    task: "micro",
    template: "a photo of a {}.",
    tokenize,
    steps: 7,
    iterations: 6,
    batchSize: 4,
    lr: 0.05,
    minLr: 1e-6,
    weightDecay: 0.01,
    betas: [0.9, 0.999] as [number, number],
    seed: 42,
  };
  const fromStream = await trainTask(model, streamed, options);
  assert.equal(tf.memory().numTensors, before);
  const inMemory = await trainTask(model, { pixels: held, labels: LABELS, classNames: CLASSES }, {
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
