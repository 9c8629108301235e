/**
 * The efficiency table, the paper's Table 2 for a run or a sweep: per method, trainable parameters
 * (count and MB, as `deno task params` computes them), peak memory, training speed at the run's
 * batch size, inference speed, and the merged model's inference cost against plain CLIP, each
 * beside the published figures where the reference file has them, with the machine measured on.
 *
 * Inputs are the figures each job recorded about how it ran (`TrainRunStats`, `EvaluateRunStats`):
 * they live outside the cache keys, so a cached job keeps the figures of the run that made it,
 * and this table is made from job records, never inside a cached job. Formats: Markdown, CSV,
 * LaTeX (booktabs) and JSON, like the accuracy tables. docs/metrics.md explains every column.
 */
import type { ClipArch } from "../clip/arch.ts";
import { machineLabel } from "../clip/machine.ts";
import type { BackendMemory } from "../clip/measure.ts";
import { type MethodConfig, methodConfigFromSettings } from "../method/config.ts";
import {
  clipParameterCount,
  countTrainableParameters,
  parameterMegabytes,
} from "../method/params.ts";
import type { TrainRunStats } from "../method/train_stats.ts";
import type { Pipeline } from "../spec/types.ts";
import type { EvaluateRunStats } from "./evaluate_stats.ts";
import type { EfficiencyReference, EfficiencyReferenceRow } from "./reference.ts";
import { csvField, latexEscape, type TableFormat } from "./tables.ts";

/** What one run's efficiency is computed from. */
export interface RunEfficiencyInput {
  /** The row's label: the run's name (in a sweep, its matrix point). */
  name: string;
  arch: ClipArch;
  /** The run's resolved method (`methodConfigFromSettings(pipeline.method)`). */
  method: MethodConfig;
  /** `train.batch_size` of the run. */
  trainBatchSize: number;
  /** `evaluate.batch_size` of the run. */
  evalBatchSize: number;
  /** Each train job of the run, in task order: its recorded stats, or null if it has none. */
  trains: readonly (TrainRunStats | null)[];
  /**
   * Each evaluate job of the run: the model state it evaluated (0 = CLIP before task 1, t = after
   * task t) and its recorded stats, or null.
   */
  evaluations: readonly { state: number; stats: EvaluateRunStats | null }[];
}

/** Inference speed pooled over evaluate jobs. */
export interface InferenceRate {
  /** Images per second (first batches left out, unless `warmupIncluded`). */
  imagesPerSecond: number;
  /** Images the rate is computed over. */
  images: number;
  /** Every measured job fit in one batch, so the rate includes its first batch's warm-up. */
  warmupIncluded: boolean;
  /** Evaluate jobs of these states, and how many had figures. */
  jobs: number;
  measured: number;
  /** `tfjs wasm`, `onnx cuda`, ...: every engine and backend the jobs ran on. */
  engines: string[];
}

/** A run's efficiency figures: one row of the table, and the report's `efficiency.json`. */
export interface RunEfficiency {
  name: string;
  method: string;
  arch: string;
  parameters: {
    /** Trainable parameters (routers included), as `deno task params` prints them. */
    trainable: number;
    routers: number;
    /** fp32 MB (2^20 bytes). */
    megabytes: number;
    /** The whole CLIP's parameters: what full fine-tuning trains. */
    fullFineTune: number;
    fullFineTuneMegabytes: number;
  };
  /** Null when the method trains nothing (zero-shot). */
  train: {
    batchSize: number;
    /** Train jobs of the run, and how many had figures. */
    tasks: number;
    measured: number;
    /** Optimiser steps per second over every measured task, first steps left out. */
    stepsPerSecond: number | null;
    imagesPerSecond: number | null;
    /** Mean seconds of a task's first step (its warm-up). */
    firstStepSeconds: number | null;
    /** Most tensor bytes a step held, over the tasks. */
    peakTensorBytes: number | null;
    /** The backend's own memory figure, the largest over the tasks. */
    backendMemory: BackendMemory | null;
    /** Whether the encoders were checkpointed (null: not measured). */
    checkpoint: boolean | null;
  } | null;
  inference: {
    batchSize: number;
    /** The run's own models: the merged states after each task (CLIP itself for zero-shot). */
    model: InferenceRate | null;
    /** Plain CLIP: the state before task 1. */
    clip: InferenceRate | null;
    /**
     * model / clip images per second, as measured. By construction they cost the same: every
     * method merges its update into the backbone's own weights (no router, no extra branch).
     */
    measuredRatio: number | null;
  };
  /** Every machine a measured job ran on (`machineLabel`). */
  machines: string[];
}

/** Speed of evaluate jobs pooled: Σ images / Σ seconds over the batches after each first one. */
function pooledInference(
  evaluations: readonly { stats: EvaluateRunStats | null }[],
): InferenceRate | null {
  const measured = evaluations.flatMap(({ stats }) => stats === null ? [] : [stats]);
  const engines = [
    ...new Set(measured.map((s) => `${s.measuredOn.engine} ${s.measuredOn.backend}`)),
  ];
  const steady = measured.filter((s) => s.batches > 1);
  const warmupIncluded = steady.length === 0;
  const parts = warmupIncluded
    ? measured.map((s) => [s.images, s.seconds])
    : steady.map((s) => [s.images - s.firstBatchImages, s.seconds - s.firstBatchSeconds]);
  const images = parts.reduce((sum, [count]) => sum + count!, 0);
  const seconds = parts.reduce((sum, [, time]) => sum + time!, 0);
  if (images === 0 || seconds <= 0) return null;
  return {
    imagesPerSecond: images / seconds,
    images,
    warmupIncluded,
    jobs: evaluations.length,
    measured: measured.length,
    engines,
  };
}

function largestBackendMemory(stats: readonly TrainRunStats[]): BackendMemory | null {
  let largest: BackendMemory | null = null;
  for (const { backendMemory } of stats) {
    if (backendMemory !== null && backendMemory.bytes > (largest?.bytes ?? -1)) {
      largest = backendMemory;
    }
  }
  return largest;
}

function trainFigures(
  trains: readonly (TrainRunStats | null)[],
  batchSize: number,
): NonNullable<RunEfficiency["train"]> {
  const measured = trains.filter((stats): stats is TrainRunStats => stats !== null);
  const timed = measured.filter((stats) => stats.steps > 1);
  const steps = timed.reduce((sum, stats) => sum + stats.steps - 1, 0);
  const images = timed.reduce((sum, stats) => sum + (stats.steps - 1) * stats.batchSize, 0);
  const seconds = timed.reduce((sum, stats) => sum + stats.seconds - stats.firstStepSeconds, 0);
  const mean = (values: number[]) =>
    values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  return {
    batchSize,
    tasks: trains.length,
    measured: measured.length,
    stepsPerSecond: seconds > 0 ? steps / seconds : null,
    imagesPerSecond: seconds > 0 ? images / seconds : null,
    firstStepSeconds: mean(measured.map((stats) => stats.firstStepSeconds)),
    peakTensorBytes: measured.length === 0
      ? null
      : Math.max(...measured.map((stats) => stats.peakTensorBytes)),
    backendMemory: largestBackendMemory(measured),
    checkpoint: measured.length === 0 ? null : measured.some((stats) => stats.checkpoint),
  };
}

/** One run's efficiency figures from its jobs' records. */
export function runEfficiency(input: RunEfficiencyInput): RunEfficiency {
  const { arch, method } = input;
  const count = countTrainableParameters(arch, method);
  const full = clipParameterCount(arch);
  const trains = method.adapter !== "none";
  const clip = pooledInference(input.evaluations.filter((e) => e.state === 0));
  const model = trains ? pooledInference(input.evaluations.filter((e) => e.state > 0)) : clip;
  const machines = [
    ...input.trains.flatMap((stats) => stats === null ? [] : [stats.measuredOn]),
    ...input.evaluations.flatMap(({ stats }) => stats === null ? [] : [stats.measuredOn]),
  ].map(machineLabel);
  return {
    name: input.name,
    method: method.name,
    arch: arch.name,
    parameters: {
      trainable: count.total,
      routers: count.routers,
      megabytes: parameterMegabytes(count.total),
      fullFineTune: full,
      fullFineTuneMegabytes: parameterMegabytes(full),
    },
    train: trains ? trainFigures(input.trains, input.trainBatchSize) : null,
    inference: {
      batchSize: input.evalBatchSize,
      model,
      clip,
      measuredRatio: trains && model !== null && clip !== null
        ? model.imagesPerSecond / clip.imagesPerSecond
        : null,
    },
    machines: [...new Set(machines)],
  };
}

/**
 * `runEfficiency` of one compiled run: its name, resolved method and batch sizes from `pipeline`,
 * the architecture (the model artifact's `arch.json`) and its jobs' records.
 */
export function pipelineEfficiency(
  pipeline: Pipeline,
  records: Pick<RunEfficiencyInput, "arch" | "trains" | "evaluations">,
): RunEfficiency {
  return runEfficiency({
    name: pipeline.runName,
    method: methodConfigFromSettings(pipeline.method),
    trainBatchSize: pipeline.train.batchSize,
    evalBatchSize: pipeline.evaluate.batchSize,
    ...records,
  });
}

/** The efficiency table of a run (one row) or a sweep (one row per run). */
export interface EfficiencyTable {
  runs: RunEfficiency[];
  /** Published figures shown under the runs, and the reference group they come from. */
  reference: { group: string; efficiency: EfficiencyReference } | null;
  notes: string[];
}

/** The table of `runs`, with the published figures of `reference` (see `efficiencyReference`). */
export function efficiencyTable(
  runs: RunEfficiency[],
  options: { reference?: { group: string; efficiency: EfficiencyReference } | null } = {},
): EfficiencyTable {
  const notes: string[] = [];
  for (const run of runs) {
    const train = run.train;
    if (train !== null && train.measured < train.tasks) {
      notes.push(
        `${run.name}: training figures from ${train.measured} of ${train.tasks} train jobs ` +
          "(the others have no figures recorded)",
      );
    }
    const model = run.inference.model;
    if (model !== null && model.measured < model.jobs) {
      notes.push(
        `${run.name}: inference figures from ${model.measured} of ${model.jobs} evaluate jobs`,
      );
    }
    if (model?.warmupIncluded) {
      notes.push(
        `${run.name}: every evaluation fit in one batch of ${run.inference.batchSize}, so its ` +
          "images/s include the first batch's warm-up",
      );
    }
  }
  return { runs, reference: options.reference ?? null, notes };
}

// ---- Cells -------------------------------------------------------------------------------------

const MIB = 2 ** 20;

/** Three significant digits, thousands grouped: 0.0123, 1.84, 14.4, 812, 9,490. */
function figure(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return Number(value.toPrecision(3)).toString();
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

const MEMORY_KIND: Record<BackendMemory["kind"], string> = {
  "webgpu-buffer-pool": "WebGPU buffer pool",
  "wasm-heap": "wasm heap",
};

/** The batch size shared by every run's training, or null when they differ. */
function sharedTrainBatch(table: EfficiencyTable): number | null {
  const sizes = new Set(
    table.runs.flatMap((run) => run.train === null ? [] : [run.train.batchSize]),
  );
  return sizes.size === 1 ? [...sizes][0]! : null;
}

/** The whole-CLIP rows shown for the parameter count: one per architecture not fully trained. */
function fullFineTuneRows(table: EfficiencyTable): RunEfficiency["parameters"][] {
  const rows = new Map<string, RunEfficiency["parameters"]>();
  for (const run of table.runs) {
    const fullyTrained = table.runs.some((other) =>
      other.arch === run.arch && other.parameters.trainable === other.parameters.fullFineTune
    );
    if (!fullyTrained) rows.set(run.arch, run.parameters);
  }
  return [...rows.values()];
}

interface DisplayRow {
  name: string;
  parameters: string;
  memory: string;
  trainRate: string;
  firstStep: string;
  inference: string;
  againstClip: string;
  machine: string;
}

const DASH = "–";

function runDisplay(run: RunEfficiency, sharedBatch: number | null): DisplayRow {
  const { parameters, train, inference } = run;
  const share = parameters.trainable === parameters.fullFineTune || parameters.trainable === 0
    ? ""
    : `, ${figure((100 * parameters.trainable) / parameters.fullFineTune)}% of full FT`;
  const memory = train?.peakTensorBytes == null
    ? DASH
    : figure(train.peakTensorBytes / MIB) + (train.backendMemory === null
      ? ""
      : ` (${MEMORY_KIND[train.backendMemory.kind]} ${figure(train.backendMemory.bytes / MIB)})`);
  const batch = train !== null && sharedBatch === null ? ` at batch ${train.batchSize}` : "";
  const trainRate = train?.stepsPerSecond == null
    ? DASH
    : `${figure(train.stepsPerSecond)} (${figure(train.imagesPerSecond!)} img/s)${batch}`;
  const model = inference.model;
  const againstClip = run.train === null
    ? "is CLIP"
    : inference.measuredRatio === null
    ? "same as CLIP by construction (CLIP not measured)"
    : `same as CLIP by construction; measured ${inference.measuredRatio.toFixed(2)}× (${
      figure(model!.imagesPerSecond)
    } vs ${figure(inference.clip!.imagesPerSecond)} img/s)`;
  return {
    name: run.name,
    parameters: `${count(parameters.trainable)} (${parameters.megabytes.toFixed(2)} MB${share})`,
    memory,
    trainRate: train === null ? "no training" : trainRate,
    firstStep: train?.firstStepSeconds == null ? DASH : figure(train.firstStepSeconds),
    inference: model === null ? DASH : figure(model.imagesPerSecond),
    againstClip,
    machine: run.machines.length === 0 ? DASH : run.machines.join("; "),
  };
}

function referenceDisplay(row: EfficiencyReferenceRow): DisplayRow {
  const optional = (value: number | null, unit = "") =>
    value === null ? DASH : `${figure(value)}${unit}`;
  return {
    name: row.name,
    parameters: row.trainableMb === null ? DASH : `${row.trainableMb.toFixed(2)} MB`,
    memory: optional(row.peakMemoryMb),
    trainRate: optional(row.trainItPerSecond),
    firstStep: DASH,
    inference: optional(row.inferenceItPerSecond, " it/s"),
    againstClip: DASH,
    machine: row.device ?? DASH,
  };
}

function displayRows(table: EfficiencyTable): DisplayRow[] {
  const sharedBatch = sharedTrainBatch(table);
  const rows = table.runs.map((run) => runDisplay(run, sharedBatch));
  for (const parameters of fullFineTuneRows(table)) {
    rows.push({
      name: "Full fine-tuning (count)",
      parameters: `${count(parameters.fullFineTune)} (${
        parameters.fullFineTuneMegabytes.toFixed(2)
      } MB)`,
      memory: DASH,
      trainRate: DASH,
      firstStep: DASH,
      inference: DASH,
      againstClip: DASH,
      machine: DASH,
    });
  }
  for (const row of table.reference?.efficiency.rows ?? []) rows.push(referenceDisplay(row));
  return rows;
}

function headers(table: EfficiencyTable): string[] {
  const batch = sharedTrainBatch(table);
  const evalBatches = new Set(table.runs.map((run) => run.inference.batchSize));
  return [
    "Method",
    "Trainable parameters",
    "Peak memory (MB)",
    batch === null ? "Train it/s" : `Train it/s (batch ${batch})`,
    "First step (s)",
    evalBatches.size === 1 ? `Inference img/s (batch ${[...evalBatches][0]})` : "Inference img/s",
    "Merged model vs CLIP",
    "Measured on",
  ];
}

function cells(row: DisplayRow): string[] {
  return [
    row.name,
    row.parameters,
    row.memory,
    row.trainRate,
    row.firstStep,
    row.inference,
    row.againstClip,
    row.machine,
  ];
}

/** What every table says under itself: units and how the figures were measured. */
function footnotes(table: EfficiencyTable): string[] {
  const lines = [
    "MB = 2^20 bytes. Trainable parameters as `deno task params` counts them (fp32).",
    "Peak memory: the most tensor bytes a training step held at once, weights included " +
    "(TF.js's count); in parentheses the backend's own high-water mark where it keeps one.",
    "Train it/s: optimiser steps per second after each task's first step, which is timed " +
    "apart (First step).",
    "Inference img/s: test images per second of the merged models' evaluations, first " +
    "batches left out.",
  ];
  const checkpointed = table.runs.filter((run) => run.train?.checkpoint === true);
  if (checkpointed.length > 0) {
    lines.push(
      "Trained with per-block gradient checkpointing (less memory, one more forward pass of " +
        `the blocks per step): ${checkpointed.map((run) => run.name).join(", ")}.`,
    );
  }
  if (table.reference !== null) {
    const { efficiency, group } = table.reference;
    lines.push(
      `Published: ${efficiency.source ?? group}. Their memory is peak GPU memory in PyTorch ` +
        "and their inference it/s counts iterations of their evaluation loop, not images.",
    );
  }
  return [...lines, ...table.notes];
}

// ---- Formats -----------------------------------------------------------------------------------

function renderMarkdown(table: EfficiencyTable): string {
  const titles = headers(table);
  const lines = [
    "### Efficiency",
    "",
    `| ${titles.join(" | ")} |`,
    // Figures right-aligned; the last two columns are text.
    `|---|${titles.slice(1, -2).map(() => "---:").join("|")}|---|---|`,
    ...displayRows(table).map((row) => `| ${cells(row).join(" | ")} |`),
    "",
    ...footnotes(table).map((line) => `- ${line}`),
  ];
  return lines.join("\n") + "\n";
}

/** Machine-readable: one unrounded figure per column, published rows with `kind: reference`. */
function renderCsv(table: EfficiencyTable): string {
  const columns = [
    "method",
    "kind",
    "trainable_parameters",
    "trainable_mb",
    "peak_tensor_mb",
    "backend_memory",
    "backend_memory_mb",
    "train_batch_size",
    "train_it_per_s",
    "train_images_per_s",
    "first_step_s",
    "eval_batch_size",
    "inference_images_per_s",
    "inference_it_per_s",
    "clip_images_per_s",
    "measured_vs_clip",
    "measured_on",
  ];
  const value = (v: number | string | null | undefined) => v == null ? "" : String(v);
  const lines = [columns.join(",")];
  for (const run of table.runs) {
    const { train, inference } = run;
    lines.push(
      [
        run.name,
        "run",
        run.parameters.trainable,
        run.parameters.megabytes,
        train?.peakTensorBytes == null ? null : train.peakTensorBytes / MIB,
        train?.backendMemory?.kind,
        train?.backendMemory == null ? null : train.backendMemory.bytes / MIB,
        train?.batchSize,
        train?.stepsPerSecond,
        train?.imagesPerSecond,
        train?.firstStepSeconds,
        inference.batchSize,
        inference.model?.imagesPerSecond,
        null,
        inference.clip?.imagesPerSecond,
        inference.measuredRatio,
        run.machines.join("; "),
      ].map((v) => csvField(value(v))).join(","),
    );
  }
  for (const row of table.reference?.efficiency.rows ?? []) {
    const cells = Object.fromEntries(columns.map((column) => [column, ""]));
    Object.assign(cells, {
      method: row.name,
      kind: "reference",
      trainable_mb: value(row.trainableMb),
      peak_tensor_mb: value(row.peakMemoryMb),
      train_it_per_s: value(row.trainItPerSecond),
      inference_it_per_s: value(row.inferenceItPerSecond),
      measured_on: value(row.device),
    });
    lines.push(columns.map((column) => csvField(cells[column]!)).join(","));
  }
  return lines.join("\n") + "\n";
}

function renderLatex(table: EfficiencyTable): string {
  const titles = headers(table);
  const tex = (text: string) =>
    text === DASH ? "--" : latexEscape(text).replaceAll("×", "$\\times$");
  const lines = [
    "% requires \\usepackage{booktabs}",
    `\\begin{tabular}{l${"r".repeat(titles.length - 3)}ll}`,
    "\\toprule",
    `${titles.map(tex).join(" & ")} \\\\`,
    "\\midrule",
    ...displayRows(table).map((row) => `${cells(row).map(tex).join(" & ")} \\\\`),
    "\\bottomrule",
    "\\end{tabular}",
  ];
  return lines.join("\n") + "\n";
}

function renderJson(table: EfficiencyTable): string {
  return JSON.stringify(
    { runs: table.runs, reference: table.reference, notes: footnotes(table) },
    null,
    2,
  ) + "\n";
}

const RENDERERS: Record<TableFormat, (table: EfficiencyTable) => string> = {
  md: renderMarkdown,
  csv: renderCsv,
  latex: renderLatex,
  json: renderJson,
};

/** Renders the efficiency table in one format. */
export function renderEfficiency(table: EfficiencyTable, format: TableFormat): string {
  return RENDERERS[format](table);
}

/**
 * The run's figures from the text of its `efficiency.json` (`renderEfficiency(table, "json")` of
 * a one-run table), or null when the text is not such a file.
 */
export function runEfficiencyFromJson(text: string): RunEfficiency | null {
  try {
    const run = (JSON.parse(text) as { runs?: unknown[] }).runs?.[0] as RunEfficiency | undefined;
    return typeof run?.parameters?.trainable === "number" ? run : null;
  } catch {
    return null;
  }
}

/**
 * The efficiency columns of a sweep's summary: one row per run (named by its matrix point), from
 * each run's `efficiency.json` (null when its report has none), with the published figures.
 */
export function sweepEfficiencyMarkdown(
  runs: readonly { name: string; efficiency: RunEfficiency | null }[],
  options: { reference?: { group: string; efficiency: EfficiencyReference } | null } = {},
): string {
  const measured = runs.flatMap(({ name, efficiency }) =>
    efficiency === null ? [] : [{ ...efficiency, name }]
  );
  const table = efficiencyTable(measured, options);
  for (const { name, efficiency } of runs) {
    if (efficiency === null) {
      table.notes.push(`${name}: no efficiency figures (its report has none)`);
    }
  }
  return renderEfficiency(table, "md");
}
