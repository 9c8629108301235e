import assert from "node:assert/strict";
import type { MeasuredOn } from "../clip/machine.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { loadMethodConfig } from "../method/config.ts";
import { parseTrainRunStats, type TrainRunStats } from "../method/train_stats.ts";
import {
  efficiencyTable,
  renderEfficiency,
  runEfficiency,
  runEfficiencyFromJson,
  type RunEfficiencyInput,
  sweepEfficiencyMarkdown,
} from "./efficiency.ts";
import { type EvaluateRunStats, parseEvaluateRunStats } from "./evaluate_stats.ts";
import { efficiencyReference, loadReference } from "./reference.ts";

const MACHINE: MeasuredOn = {
  engine: "tfjs",
  backend: "wasm",
  device: "AMD EPYC",
  cpu: "AMD EPYC",
  cores: 2,
  memoryBytes: 24 * 2 ** 30,
  os: "linux x86_64",
};
const MIB = 2 ** 20;

/** A task of 11 steps at batch 32: step 1 takes `first` s, the other 10 take 5 s. */
function trained(first: number, peakMiB: number, heapMiB: number): TrainRunStats {
  return {
    measuredOn: MACHINE,
    batchSize: 32,
    steps: 11,
    seconds: first + 5,
    firstStepSeconds: first,
    stepsPerSecond: 2,
    imagesPerSecond: 64,
    peakTensorBytes: peakMiB * MIB,
    backendMemory: { kind: "wasm-heap", bytes: heapMiB * MIB },
    checkpoint: true,
  };
}

/** 4 batches of 25 images: the first in 0.25 s, the other 75 images at `rate` images/s. */
function evaluated(rate: number): EvaluateRunStats {
  return {
    measuredOn: MACHINE,
    batchSize: 25,
    images: 100,
    batches: 4,
    seconds: 0.25 + 75 / rate,
    firstBatchSeconds: 0.25,
    firstBatchImages: 25,
    imagesPerSecond: rate,
  };
}

function expertPoolRun(overrides: Partial<RunEfficiencyInput> = {}): RunEfficiencyInput {
  return {
    name: "ours",
    arch: loadArchPreset("ViT-B-16"),
    method: loadMethodConfig("expert-pool"),
    trainBatchSize: 32,
    evalBatchSize: 25,
    trains: [trained(1, 1000, 1400), trained(0.5, 1200, 1500)],
    evaluations: [
      { state: 0, stats: evaluated(75) },
      { state: 0, stats: evaluated(75) },
      { state: 1, stats: evaluated(72) },
      { state: 2, stats: evaluated(72) },
    ],
    ...overrides,
  };
}

Deno.test("runEfficiency() pools two tasks to 2 it/s and 64 img/s after their warm-ups, keeps the larger peak, and measures the merged model at 0.96x CLIP", () => {
  const run = runEfficiency(expertPoolRun());
  assert.deepEqual(run.parameters, {
    trainable: 4978368,
    routers: 1660608,
    megabytes: 4978368 * 4 / MIB,
    fullFineTune: 149620737,
    fullFineTuneMegabytes: 149620737 * 4 / MIB,
  });
  const train = run.train!;
  assert.deepEqual([train.tasks, train.measured, train.batchSize], [2, 2, 32]);
  assert.ok(Math.abs(train.stepsPerSecond! - 2) < 1e-12);
  assert.ok(Math.abs(train.imagesPerSecond! - 64) < 1e-12);
  assert.equal(train.firstStepSeconds, 0.75);
  assert.equal(train.peakTensorBytes, 1200 * MIB);
  assert.deepEqual(train.backendMemory, { kind: "wasm-heap", bytes: 1500 * MIB });
  assert.ok(Math.abs(run.inference.clip!.imagesPerSecond - 75) < 1e-9);
  assert.ok(Math.abs(run.inference.model!.imagesPerSecond - 72) < 1e-9);
  assert.equal(run.inference.model!.images, 150);
  assert.ok(Math.abs(run.inference.measuredRatio! - 0.96) < 1e-12);
  assert.deepEqual(run.machines, ["tfjs wasm on AMD EPYC (2 cores, 24 GiB)"]);
});

Deno.test("the Markdown efficiency table: our row, full fine-tuning's count, and the paper's Table 2 beside it", async () => {
  const reference = efficiencyReference(await loadReference());
  const md = renderEfficiency(
    efficiencyTable([runEfficiency(expertPoolRun())], { reference }),
    "md",
  );
  const lines = md.split("\n");
  assert.equal(lines[0], "### Efficiency");
  assert.equal(
    lines[2],
    "| Method | Trainable parameters | Peak memory (MB) | Train it/s (batch 32) | First step (s) | " +
      "Inference img/s (batch 25) | Merged model vs CLIP | Measured on |",
  );
  assert.equal(lines[3], "|---|---:|---:|---:|---:|---:|---|---|");
  assert.ok(lines.includes(
    "| ours | 4,978,368 (18.99 MB, 3.33% of full FT) | 1,200 (wasm heap 1,500) | 2 (64 img/s) | " +
      "0.75 | 72 | same as CLIP by construction; measured 0.96× (72 vs 75 img/s) | " +
      "tfjs wasm on AMD EPYC (2 cores, 24 GiB) |",
  ));
  assert.ok(
    lines.includes(
      "| Full fine-tuning (count) | 149,620,737 (570.76 MB) | – | – | – | – | – | – |",
    ),
  );
  assert.ok(
    lines.includes(
      "| DAC (paper) | 18.99 MB | 9,490 | 1.84 | – | 2.98 it/s | – | NVIDIA RTX A6000 |",
    ),
  );
  assert.ok(
    lines.includes("| ZSCL (paper) | 570.76 MB | 28,454 | – | – | – | – | NVIDIA RTX A6000 |"),
  );
  assert.ok(
    lines.includes(
      "| MoE-Adapters (paper) | – | – | 0.78 | – | 1.04 it/s | – | NVIDIA RTX A6000 |",
    ),
  );
  assert.match(md, /- Trained with per-block gradient checkpointing \(.*\): ours\./);
  assert.match(md, /- Published: the paper's Table 2 .*not images\./);
});

Deno.test("zero-shot is CLIP (no training, 0 parameters); full fine-tuning counts the whole CLIP and needs no count row", () => {
  const zeroShot = runEfficiency(expertPoolRun({
    name: "zero-shot",
    method: loadMethodConfig("zero-shot"),
    trains: [],
    evaluations: [{ state: 0, stats: evaluated(75) }],
  }));
  assert.equal(zeroShot.train, null);
  assert.equal(zeroShot.inference.measuredRatio, null);
  const full = runEfficiency(
    expertPoolRun({ name: "full", method: loadMethodConfig("full-finetune") }),
  );
  assert.equal(full.parameters.trainable, 149620737);
  const md = renderEfficiency(efficiencyTable([zeroShot, full]), "md");
  assert.match(md, /\| zero-shot \| 0 \(0\.00 MB\) \| – \| no training \| – \| 75 \| is CLIP \|/);
  assert.match(md, /\| full \| 149,620,737 \(570\.76 MB\) \| 1,200/);
  assert.doesNotMatch(md, /Full fine-tuning \(count\)/);
});

Deno.test("jobs without figures leave dashes and a note; one-batch evaluations say their rate includes warm-up", () => {
  const oneBatch: EvaluateRunStats = {
    ...evaluated(75),
    batches: 1,
    images: 25,
    seconds: 0.5,
    firstBatchSeconds: 0.5,
    firstBatchImages: 25,
    imagesPerSecond: null,
  };
  const run = runEfficiency(expertPoolRun({
    trains: [null, trained(1, 1000, 1400)],
    evaluations: [{ state: 1, stats: oneBatch }, { state: 2, stats: null }],
  }));
  assert.equal(run.train!.measured, 1);
  assert.equal(run.inference.model!.imagesPerSecond, 50);
  assert.equal(run.inference.model!.warmupIncluded, true);
  const md = renderEfficiency(efficiencyTable([run]), "md");
  assert.match(md, /same as CLIP by construction \(CLIP not measured\)/);
  assert.match(md, /- ours: training figures from 1 of 2 train jobs/);
  assert.match(md, /- ours: inference figures from 1 of 2 evaluate jobs/);
  assert.match(md, /- ours: every evaluation fit in one batch of 25, so its images\/s include/);
  const nothing = runEfficiency(expertPoolRun({ trains: [null], evaluations: [] }));
  assert.match(
    renderEfficiency(efficiencyTable([nothing]), "md"),
    /\| ours \| 4,978,368 \(18\.99 MB, 3\.33% of full FT\) \| – \| – \| – \| – \| same as CLIP by construction \(CLIP not measured\) \| – \|/,
  );
});

Deno.test("CSV holds one unrounded figure per column; LaTeX escapes % and writes × in math; JSON reads back", async () => {
  const reference = efficiencyReference(await loadReference());
  const table = efficiencyTable([runEfficiency(expertPoolRun())], { reference });
  const lines = renderEfficiency(table, "csv").trim().split("\n");
  const header = lines[0]!.split(",");
  const row = (name: string) => {
    const line = lines.find((candidate) => candidate.startsWith(`${name},`))!;
    const values = line.split(",");
    return Object.fromEntries(header.map((column, i) => [column, values[i]]));
  };
  const ours = row("ours");
  assert.equal(ours.trainable_parameters, "4978368");
  assert.equal(ours.peak_tensor_mb, "1200");
  assert.equal(ours.backend_memory, "wasm-heap");
  assert.equal(Number(ours.train_it_per_s).toFixed(9), "2.000000000");
  assert.equal(ours.first_step_s, "0.75");
  const dac = row("DAC (paper)");
  assert.deepEqual(
    [dac.kind, dac.trainable_mb, dac.peak_tensor_mb, dac.train_it_per_s, dac.inference_it_per_s],
    ["reference", "18.99", "9490", "1.84", "2.98"],
  );
  const latex = renderEfficiency(table, "latex");
  assert.match(latex, /\\begin\{tabular\}\{lrrrrrll\}/);
  assert.match(latex, /3\.33\\% of full FT/);
  assert.match(latex, /measured 0\.96\$\\times\$ \(72 vs 75 img\/s\)/);
  assert.match(
    latex,
    /DAC \(paper\) & 18\.99 MB & 9,490 & 1\.84 & -- & 2\.98 it\/s & -- & NVIDIA RTX A6000 \\\\/,
  );
  const json = renderEfficiency(table, "json");
  assert.equal(JSON.parse(json).reference.group, "paper-5shot-order-I");
  assert.deepEqual(runEfficiencyFromJson(json), table.runs[0]);
  assert.equal(runEfficiencyFromJson("{}"), null);
  assert.equal(runEfficiencyFromJson("not json"), null);
});

Deno.test("sweepEfficiencyMarkdown(): one row per run, named by its matrix point; a run without figures is named in a note", () => {
  const md = sweepEfficiencyMarkdown([
    { name: "method.name=expert-pool", efficiency: runEfficiency(expertPoolRun()) },
    {
      name: "method.name=lora",
      efficiency: runEfficiency(expertPoolRun({ method: loadMethodConfig("lora") })),
    },
    { name: "method.name=ago-no-routing", efficiency: null },
  ]);
  assert.match(md, /\| method\.name=expert-pool \| 4,978,368 \(18\.99 MB/);
  assert.match(md, /\| method\.name=lora \| 3,317,760 \(12\.66 MB/);
  assert.match(md, /\| Full fine-tuning \(count\) \| 149,620,737 \(570\.76 MB\)/);
  assert.match(md, /- method\.name=ago-no-routing: no efficiency figures \(its report has none\)/);
});

Deno.test("stored stats read back as they were written; records without figures read as null", () => {
  const train = trained(1, 1000, 1400);
  assert.deepEqual(parseTrainRunStats(JSON.parse(JSON.stringify(train))), train);
  assert.deepEqual(parseTrainRunStats({ ...train, backendMemory: null }), {
    ...train,
    backendMemory: null,
  });
  assert.equal(parseTrainRunStats(undefined), null);
  assert.equal(parseTrainRunStats({ ...train, steps: "11" }), null);
  assert.equal(parseTrainRunStats({ ...train, measuredOn: { backend: "wasm" } }), null);
  const evaluation = evaluated(75);
  assert.deepEqual(parseEvaluateRunStats(JSON.parse(JSON.stringify(evaluation))), evaluation);
  assert.equal(parseEvaluateRunStats({ ...evaluation, images: null }), null);
});
