/**
 * The typed output of the pipeline spec language: one fully resolved, defaulted `Pipeline` per
 * run (after `extends`, `${var}` interpolation, `--set` overrides and `matrix` expansion).
 * Every path is absolute; every field has its value, none is left to a later default.
 * The YAML field names are snake_case (`batch_size`); here they are camelCase (`batchSize`).
 * docs/pipelines.md is the reference for what each field means and why its default is what it is.
 */
import { LINEAR_TARGETS } from "../clip/arch.ts";
import {
  BACKEND_NAMES,
  DEVICE_NAMES,
  ENGINE_NAMES,
  type InferenceSetting,
} from "../clip/settings.ts";
import { METHOD_PRESETS } from "../method/config.ts";
import { MTIL_DATASETS } from "../mtil/benchmark.ts";
import { CONCEPT_CLASSES, CONCEPT_DATASETS } from "../mtil/concepts/domains.ts";

/** The eleven MTIL datasets, by the names `configs/benchmarks/mtil/` uses. */
export const DATASET_NAMES = MTIL_DATASETS;
export type DatasetName = typeof DATASET_NAMES[number];

/**
 * Methods a pipeline can run. `expert-pool` is the paper's method as released; the others are its
 * ablations and baselines.
 */
export const METHOD_NAMES = METHOD_PRESETS;
export type MethodName = typeof METHOD_NAMES[number];

/** Methods that draw rank-1 experts from a pool, so top_k / merge_top / ago.critical apply. */
export const EXPERT_POOL_METHODS: readonly MethodName[] = [
  "expert-pool",
  "expert-pool-ago-critical",
  "expert-pool-no-ago",
  "ago-no-routing",
  "expert-pool-trainable-router",
];

export { BACKEND_NAMES };
export type BackendName = typeof BACKEND_NAMES[number];

export { DEVICE_NAMES, ENGINE_NAMES };
/**
 * The engine that runs inference (evaluation, zero-shot heads): `engine` auto | onnx | tfjs,
 * `device` auto | cpu | webgpu | cuda (ONNX Runtime's; TF.js runs on `backend`).
 */
export type InferenceSpec = InferenceSetting;

/** Adapted linear layers of a transformer block: attention q/k/v/out, MLP fc (c_fc) and proj (c_proj). */
export const TARGET_NAMES = LINEAR_TARGETS;
export type TargetName = typeof TARGET_NAMES[number];

export const ENCODER_NAMES = ["vision", "text"] as const;
export type EncoderName = typeof ENCODER_NAMES[number];

export const SYNTHETIC_MODEL_PRESETS = ["clip-tiny"] as const;
export type SyntheticModelPreset = typeof SYNTHETIC_MODEL_PRESETS[number];

export const SCHEDULE_NAMES = ["cosine", "constant"] as const;
export type ScheduleName = typeof SCHEDULE_NAMES[number];

export const TEMPLATE_CHOICES = ["first", "random"] as const;
export type TemplateChoice = typeof TEMPLATE_CHOICES[number];

export const REPORT_FORMATS = ["md", "csv", "latex"] as const;
export type ReportFormat = typeof REPORT_FORMATS[number];

export const PLOT_NAMES = ["accuracy-matrix", "expert-activation"] as const;
export type PlotName = typeof PLOT_NAMES[number];

/** Where the CLIP weights come from. */
export type ModelSpec =
  | {
    source: "weights";
    /** Absolute path of a folder holding HF- or OpenAI-layout safetensors. */
    weights: string;
    /** Absolute path of the tokenizer folder (defaults to `weights`). */
    tokenizer: string;
  }
  | {
    source: "synthetic";
    /** A tiny random CLIP the project generates (the offline quickstart). */
    preset: SyntheticModelPreset;
    seed: number;
    /** Absolute tokenizer folder, or null: the generator's own tokenizer. */
    tokenizer: string | null;
  };

/**
 * How generated benchmark images look: `stripes`, a colour and stripe pattern per class (any
 * dataset, learnable from scratch); `concepts`, the mini benchmark's classes drawn from the
 * concept pool the shipped tiny CLIP was pretrained on (src/mtil/concepts/domains.ts).
 */
export { CONCEPT_CLASSES, CONCEPT_DATASETS };
export const SYNTHETIC_IMAGE_KINDS = ["stripes", "concepts"] as const;
export type SyntheticImageKind = typeof SYNTHETIC_IMAGE_KINDS[number];

/** Where the benchmark's images come from. */
export type BenchmarkData =
  | { source: "folder"; /** Absolute MTIL data root (torchvision layouts). */ root: string }
  | {
    source: "synthetic";
    /** Classes per dataset. */
    classes: number;
    /** Images per class per split. */
    imagesPerClass: number;
    /** Square image side in pixels. */
    size: number;
    seed: number;
    images: SyntheticImageKind;
  };

export interface BenchmarkSpec {
  name: "mtil";
  data: BenchmarkData;
  /** "I", "II" or "custom" (an explicit list in the spec). */
  orderName: string;
  /** The tasks, in training order, after the `datasets` subset was applied. */
  tasks: DatasetName[];
  /** Images per class in each task's training set; 0 = the full training split. */
  shots: number;
  /** Cap on test images per dataset (quick runs); null = the whole test split. */
  testLimit: number | null;
}

export interface AgoSpec {
  /** Weight of the AGO term in the loss. */
  weight: number;
  /** Most-activated experts per task whose B columns enter the AGO bank. */
  critical: number;
  /**
   * Which B columns of earlier tasks the term compares against: `critical` (their top
   * `critical`, as the paper describes), `all` (every column, what the authors' release does), or
   * `method`: the variant's own choice (all for expert-pool and its variants, critical for
   * expert-pool-ago-critical).
   */
  past: "method" | "critical" | "all";
}

export interface MethodSpec {
  name: MethodName;
  /** Experts in the pool = LoRA rank. */
  rank: number;
  /** Experts each sample votes for. */
  topK: number;
  /** Most-activated experts merged into the weights after each task. */
  mergeTop: number;
  /** LoRA scaling numerator: the update is (alpha / rank) B A. */
  alpha: number;
  /** Dropout on the LoRA branch input. */
  dropout: number;
  ago: AgoSpec;
  targets: TargetName[];
  encoders: EncoderName[];
  /** Adapted transformer blocks: "all" or block indices (0-based). */
  blocks: "all" | number[];
}

export interface TrainSpec {
  /** Length of the learning-rate schedule per task. */
  iterations: number;
  /** Optimiser steps actually run per task (the released loop runs iterations + 1). */
  steps: number;
  batchSize: number;
  /** Base learning rate. */
  lr: number;
  /** Learning rate of each task, in task order (one per `benchmark.tasks` entry). */
  lrPerTask: number[];
  weightDecay: number;
  betas: [number, number];
  schedule: ScheduleName;
  minLr: number;
  warmup: number;
  seed: number;
  /** Which template of the dataset fills the training texts. */
  template: TemplateChoice;
}

export interface EvaluateSpec {
  /** Evaluate after every task (the accuracy matrix), not only after the last. */
  everyTask: boolean;
  /** Evaluate the model before task 1 too (the zero-shot row). */
  zeroShotRow: boolean;
  /** Datasets evaluated at each point. */
  datasets: DatasetName[];
  batchSize: number;
}

export interface ReportSpec {
  /** Absolute path of a reference-figures file to print beside ours, or null. */
  reference: string | null;
  formats: ReportFormat[];
  plots: PlotName[];
}

/**
 * Stage kinds, as `executor.slurm` names them to give each its own resources (src/stages/mod.ts
 * defines them; tests/spec/compile_test.ts checks the two lists agree).
 */
export const STAGE_KINDS = [
  "model",
  "data",
  "prepare",
  "fewshot",
  "train",
  "merge",
  "orthogonalize",
  "head",
  "evaluate",
  "report",
] as const;
export type StageKind = typeof STAGE_KINDS[number];

/** What one Slurm job asks for: sbatch options (see src/spec/executor.ts). */
export interface SlurmResources {
  /** `--cpus-per-task`. */
  cpus: number;
  /** `--gpus`; 0 asks for none. */
  gpus: number;
  /** `--mem` as Slurm writes it ("32G"), or null: the partition's default. */
  mem: string | null;
  /** `--time` as Slurm writes it ("2:00:00"), or null: the partition's default. */
  time: string | null;
  /** `--partition`, or null: the cluster's default (`--slurm-partition` wins over both). */
  partition: string | null;
  /** Further sbatch options, as written (`--qos=high`). */
  options: string[];
}

/** Where and with what jobs run: never part of a job's params or key. */
export interface ExecutorSpec {
  /** Each stage kind's Slurm resources: `default` merged with the kind's own entry. */
  slurm: Record<StageKind, SlurmResources>;
}

/** One fully resolved run of a pipeline spec. */
export interface Pipeline {
  /** The spec's `name` (defaults to the file name without `.yaml`). */
  name: string;
  /** `name`, or `name/<path>=<value>,...` for one point of a matrix. */
  runName: string;
  /** The matrix point of this run: dotted path -> value; empty without a matrix. */
  matrixPoint: Record<string, unknown>;
  description: string;
  /** Absolute path of the spec file that was compiled. */
  specFile: string;
  /** TF.js backend: training, and inference when `inference.engine` is tfjs. */
  backend: BackendName;
  inference: InferenceSpec;
  model: ModelSpec;
  benchmark: BenchmarkSpec;
  method: MethodSpec;
  train: TrainSpec;
  evaluate: EvaluateSpec;
  report: ReportSpec;
  executor: ExecutorSpec;
}

export interface CompileOptions {
  /** `--set a.b=value` overrides, applied after `extends` (value parsed as YAML). */
  set?: string[];
  /** `--var NAME=value` variables (value parsed as YAML); they win over `vars:` in the files. */
  vars?: Record<string, string>;
  /** Environment for `${env:NAME}`; defaults to the process environment. */
  env?: Record<string, string | undefined>;
  /** Folder that error messages show paths relative to, and `--set` paths resolve against. */
  cwd?: string;
}

export interface CompiledSpec {
  /** One Pipeline per run (one without a matrix), in matrix order. */
  runs: Pipeline[];
  /** Absolute path of every file read, in the order read (provenance). */
  sources: string[];
}
