import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CompileOptions,
  compileSpec,
  DATASET_NAMES,
  ORDERS_FILE,
  type Pipeline,
  STAGE_KINDS,
  toCanonical,
} from "../../src/spec/mod.ts";
import { DEFAULT_SLURM_RESOURCES } from "../../src/spec/executor.ts";
import { STAGES } from "../../src/stages/mod.ts";

const TRAIN_PRESETS = fileURLToPath(new URL("../../configs/train/", import.meta.url));

const SYNTHETIC = `model:
  synthetic: { preset: clip-tiny }
benchmark:
  synthetic: {}
`;

/** Writes `files` (relative path -> text) into a fresh folder, compiles `main`, cleans up. */
function compileFiles(
  files: Record<string, string>,
  main: string,
  options: CompileOptions = {},
): { runs: Pipeline[]; sources: string[]; folder: string } {
  const folder = Deno.makeTempDirSync({ prefix: "rankone-spec-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      Deno.mkdirSync(dirname(join(folder, path)), { recursive: true });
      Deno.writeTextFileSync(join(folder, path), text);
    }
    return { ...compileSpec(join(folder, main), { cwd: folder, env: {}, ...options }), folder };
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
}

function onlyRun(result: { runs: Pipeline[] }): Pipeline {
  assert.equal(result.runs.length, 1);
  const [run] = result.runs;
  assert.ok(run !== undefined);
  return run;
}

Deno.test("a minimal spec gets every default of the released protocol", () => {
  const result = compileFiles({ "minimal.yaml": SYNTHETIC }, "minimal.yaml");
  const run = onlyRun(result);
  assert.equal(run.name, "minimal");
  assert.equal(run.runName, "minimal");
  assert.deepEqual(run.matrixPoint, {});
  assert.equal(run.backend, "auto");
  assert.deepEqual(run.inference, { engine: "auto", device: "auto" });
  assert.deepEqual(run.model, {
    source: "synthetic",
    preset: "clip-tiny",
    seed: 0,
    tokenizer: null,
  });
  assert.deepEqual(run.benchmark.data, {
    source: "synthetic",
    classes: 5,
    imagesPerClass: 10,
    size: 32,
    seed: 0,
    images: "stripes",
  });
  assert.equal(run.benchmark.orderName, "I");
  assert.deepEqual(run.benchmark.tasks, [...DATASET_NAMES]);
  assert.equal(run.benchmark.shots, 5);
  assert.equal(run.benchmark.testLimit, null);
  assert.deepEqual(run.method, {
    name: "expert-pool",
    rank: 12,
    topK: 8,
    mergeTop: 4,
    alpha: 1,
    dropout: 0.2,
    ago: { weight: 0.1, critical: 4, past: "method" },
    targets: ["q", "k", "v", "out", "fc", "proj"],
    encoders: ["vision", "text"],
    blocks: "all",
  });
  assert.deepEqual(run.train, {
    iterations: 500,
    steps: 501,
    batchSize: 32,
    lr: 2e-3,
    lrPerTask: DATASET_NAMES.map(() => 2e-3),
    weightDecay: 0.01,
    betas: [0.9, 0.999],
    schedule: "cosine",
    minLr: 1e-6,
    warmup: 0,
    seed: 42,
    template: "first",
  });
  assert.deepEqual(run.evaluate, {
    everyTask: true,
    zeroShotRow: true,
    datasets: [...DATASET_NAMES],
    batchSize: 64,
  });
  assert.deepEqual(run.report, {
    reference: null,
    formats: ["md", "csv", "latex"],
    plots: ["accuracy-matrix", "expert-activation"],
  });
  assert.deepEqual(result.sources, [join(result.folder, "minimal.yaml"), ORDERS_FILE]);
});

Deno.test("extends merges fragments in order, later wins, the extending file last", () => {
  const result = compileFiles({
    "presets/a.yaml": "train: { lr: 0.1, seed: 1, batch_size: 4 }\nmethod: { rank: 6 }\n",
    "presets/b.yaml": "extends: [a.yaml]\ntrain: { lr: 0.2, seed: 2 }\n",
    "presets/c.yaml": "train: { seed: 3 }\nmethod: { targets: [q, v] }\n",
    "pipelines/run.yaml": `extends: [../presets/b.yaml, ../presets/c.yaml]\n${SYNTHETIC}` +
      "train: { seed: 4 }\nmethod: { top_k: 6, merge_top: 3, ago: { critical: 3 } }\n",
  }, "pipelines/run.yaml");
  const run = onlyRun(result);
  assert.equal(run.train.lr, 0.2); // b over a
  assert.equal(run.train.batchSize, 4); // only a sets it
  assert.equal(run.train.seed, 4); // the extending file last
  assert.equal(run.method.rank, 6);
  assert.deepEqual(run.method.targets, ["q", "v"]);
  assert.equal(run.method.topK, 6);
  assert.deepEqual(
    result.sources.map((path) => path.replace(result.folder, "")),
    ["/pipelines/run.yaml", "/presets/b.yaml", "/presets/a.yaml", "/presets/c.yaml", ORDERS_FILE],
  );
});

Deno.test("paths resolve against the file that wrote them, --set paths against cwd", () => {
  const result = compileFiles(
    {
      "configs/model.yaml": "model: { weights: ../weights/clip }\n",
      "pipelines/run.yaml": "extends: [../configs/model.yaml]\nbenchmark: { root: data }\n" +
        "report: { reference: ../refs/table.yaml }\n",
    },
    "pipelines/run.yaml",
    { set: ["model.tokenizer=tok"] },
  );
  const run = onlyRun(result);
  assert.deepEqual(run.model, {
    source: "weights",
    weights: join(result.folder, "weights/clip"),
    tokenizer: join(result.folder, "tok"),
  });
  assert.deepEqual(run.benchmark.data, {
    source: "folder",
    root: join(result.folder, "pipelines/data"),
  });
  assert.equal(run.report.reference, join(result.folder, "refs/table.yaml"));
});

Deno.test("a whole-string ${var} keeps its type, inside a string it becomes text", () => {
  const spec = "vars:\n  seed: 7\n  blocks: [0, 1]\n  tag: five\n" + SYNTHETIC +
    "train: { seed: '${seed}' }\nmethod: { blocks: '${blocks}' }\n" +
    "description: 'seed ${seed}, ${tag}, $${literal}'\n";
  const run = onlyRun(compileFiles({ "run.yaml": spec }, "run.yaml"));
  assert.equal(run.train.seed, 7);
  assert.deepEqual(run.method.blocks, [0, 1]);
  assert.equal(run.description, "seed 7, five, ${literal}");
});

Deno.test("--var wins over vars:, is parsed as YAML, and ${env:NAME} reads the environment", () => {
  const spec = "vars:\n  seed: 7\n" +
    "model: { weights: '${env:CLIP_DIR}' }\nbenchmark: { synthetic: {} }\ntrain: { seed: '${seed}' }\n";
  const run = onlyRun(
    compileFiles({ "run.yaml": spec }, "run.yaml", {
      vars: { seed: "11" },
      env: { CLIP_DIR: "/models/clip" },
    }),
  );
  assert.equal(run.train.seed, 11);
  assert.equal(run.model.source === "weights" && run.model.weights, "/models/clip");
});

Deno.test("--set overrides after extends, values parsed as YAML, creating missing sections", () => {
  const run = onlyRun(compileFiles(
    { "base.yaml": "train: { lr: 0.1 }\n", "run.yaml": `extends: [base.yaml]\n${SYNTHETIC}` },
    "run.yaml",
    {
      set: [
        "train.lr=3e-4",
        "method.targets=[q, k]",
        "method.ago.weight=0",
        "backend=wasm",
        "inference.engine=onnx",
      ],
    },
  ));
  assert.equal(run.train.lr, 3e-4);
  assert.deepEqual(run.method.targets, ["q", "k"]);
  assert.equal(run.method.ago.weight, 0);
  assert.equal(run.backend, "wasm");
  assert.deepEqual(run.inference, { engine: "onnx", device: "auto" });
});

Deno.test("matrix expands into the cartesian product of named runs, first axis slowest", () => {
  const spec = `name: ablations\n${SYNTHETIC}matrix:\n  method.name: [expert-pool, lora]\n` +
    "  train.seed: [1, 2, 3]\n  benchmark.order: [I, [DTD, MNIST]]\n";
  const { runs } = compileFiles({ "ablations.yaml": spec }, "ablations.yaml");
  assert.equal(runs.length, 12);
  assert.deepEqual(runs.slice(0, 3).map((run) => run.runName), [
    "ablations/method.name=expert-pool,train.seed=1,benchmark.order=I",
    "ablations/method.name=expert-pool,train.seed=1,benchmark.order=[DTD,MNIST]",
    "ablations/method.name=expert-pool,train.seed=2,benchmark.order=I",
  ]);
  const last = runs[11];
  assert.ok(last !== undefined);
  assert.equal(last.runName, "ablations/method.name=lora,train.seed=3,benchmark.order=[DTD,MNIST]");
  assert.deepEqual(last.matrixPoint, {
    "method.name": "lora",
    "train.seed": 3,
    "benchmark.order": ["DTD", "MNIST"],
  });
  assert.equal(last.method.name, "lora");
  assert.equal(last.train.seed, 3);
  assert.deepEqual(last.benchmark.tasks, ["DTD", "MNIST"]);
  assert.equal(last.benchmark.orderName, "custom");
  assert.equal(new Set(runs.map((run) => run.runName)).size, 12);
});

Deno.test("Order II takes its released per-task rates; a datasets subset keeps their order", () => {
  const spec = `${SYNTHETIC}  order: II\n  datasets: [Aircraft, MNIST, StanfordCars]\n`;
  const run = onlyRun(compileFiles({ "run.yaml": spec }, "run.yaml"));
  assert.deepEqual(run.benchmark.tasks, ["StanfordCars", "MNIST", "Aircraft"]);
  assert.deepEqual(run.train.lrPerTask, [2e-3, 1e-3, 3e-3]);
  assert.deepEqual(run.evaluate.datasets, ["StanfordCars", "MNIST", "Aircraft"]);
});

Deno.test("an explicit lr_per_task replaces the order's rates", () => {
  const spec = `${SYNTHETIC}  order: [DTD, MNIST]\ntrain: { lr_per_task: [0.1, 0.2] }\n`;
  const run = onlyRun(compileFiles({ "run.yaml": spec }, "run.yaml"));
  assert.deepEqual(run.train.lrPerTask, [0.1, 0.2]);
});

Deno.test("the configs/train presets compile and set what they promise", () => {
  const presets = ["paper-5shot", "full-shot", "quick"].map((name) => {
    const spec = `extends: [${join(TRAIN_PRESETS, `${name}.yaml`)}]\n${SYNTHETIC}`;
    return onlyRun(compileFiles({ "run.yaml": spec }, "run.yaml"));
  });
  const [paper, full, quick] = presets;
  assert.ok(paper !== undefined && full !== undefined && quick !== undefined);
  assert.equal(paper.benchmark.shots, 5);
  assert.equal(paper.train.iterations, 500);
  assert.equal(paper.train.steps, 501);
  assert.equal(full.benchmark.shots, 0);
  assert.deepEqual(full.train, paper.train);
  assert.equal(quick.train.iterations, 20);
  assert.equal(quick.train.steps, 21);
  assert.equal(quick.benchmark.testLimit, 50);
});

Deno.test("toCanonical sorts keys at every level and survives a JSON round trip", () => {
  const run = onlyRun(compileFiles({ "run.yaml": SYNTHETIC }, "run.yaml"));
  const canonical = toCanonical(run);
  const text = JSON.stringify(canonical);
  assert.deepEqual(JSON.parse(text), canonical);
  assert.ok(text.startsWith('{"backend":"auto","benchmark":{"data":{"classes":5,'));
  const reversed = <T extends object>(value: T): T =>
    Object.fromEntries(Object.entries(value).reverse()) as T;
  const reordered = reversed({ ...run, train: reversed(run.train) });
  assert.notEqual(JSON.stringify(reordered), JSON.stringify(run));
  assert.equal(JSON.stringify(toCanonical(reordered)), text);
});

Deno.test("executor.slurm: each stage kind gets default's resources overridden field by field by its own", () => {
  const spec = `${SYNTHETIC}executor:
  slurm:
    default: { cpus: 2, mem: 8g, time: "1:00:00", options: [--qos=normal] }
    train: { gpus: 1, mem: 32G, time: "2:00:00", partition: gpu }
    evaluate: { gpus: 1, time: 30 }
`;
  const run = onlyRun(compileFiles({ "run.yaml": spec }, "run.yaml"));
  assert.deepEqual(run.executor.slurm.train, {
    cpus: 2,
    gpus: 1,
    mem: "32G",
    time: "2:00:00",
    partition: "gpu",
    options: ["--qos=normal"],
  });
  assert.deepEqual(run.executor.slurm.evaluate, {
    cpus: 2,
    gpus: 1,
    mem: "8G",
    time: "30",
    partition: null,
    options: ["--qos=normal"],
  });
  assert.deepEqual(run.executor.slurm.report, {
    cpus: 2,
    gpus: 0,
    mem: "8G",
    time: "1:00:00",
    partition: null,
    options: ["--qos=normal"],
  });
  const plain = onlyRun(compileFiles({ "run.yaml": SYNTHETIC }, "run.yaml"));
  for (const resources of Object.values(plain.executor.slurm)) {
    assert.deepEqual(resources, DEFAULT_SLURM_RESOURCES);
  }
  // Without executor.slurm: one CPU, no GPU, and the partition's own memory and time limits.
  const none = { cpus: 1, gpus: 0, mem: null, time: null, partition: null, options: [] };
  assert.deepEqual(DEFAULT_SLURM_RESOURCES, none);
});

Deno.test("executor.slurm names exactly the stage kinds the runner knows", () => {
  assert.deepEqual([...STAGE_KINDS].sort(), Object.keys(STAGES).sort());
});
