/**
 * The schema: a merged, interpolated spec tree -> a typed, defaulted Pipeline. Each section is
 * read field by field; docs/pipelines.md gives the reason for every default here.
 */
import { type Origin, SpecError } from "./error.ts";
import { readExecutor } from "./executor.ts";
import { describe, type MapNode, type SpecNode } from "./node.ts";
import {
  choiceFrom,
  listFrom,
  numberFrom,
  readBoolean,
  readChoice,
  readChoiceList,
  readNumber,
  readPath,
  readString,
  rejectDuplicates,
  Section,
} from "./read.ts";
import {
  BACKEND_NAMES,
  type BenchmarkData,
  type BenchmarkSpec,
  CONCEPT_CLASSES,
  CONCEPT_DATASETS,
  DATASET_NAMES,
  type DatasetName,
  DEVICE_NAMES,
  ENCODER_NAMES,
  ENGINE_NAMES,
  type EvaluateSpec,
  EXPERT_POOL_METHODS,
  type InferenceSpec,
  METHOD_NAMES,
  type MethodSpec,
  type ModelSpec,
  type Pipeline,
  PLOT_NAMES,
  REPORT_FORMATS,
  type ReportSpec,
  SCHEDULE_NAMES,
  SYNTHETIC_IMAGE_KINDS,
  SYNTHETIC_MODEL_PRESETS,
  TARGET_NAMES,
  TEMPLATE_CHOICES,
  type TrainSpec,
} from "./types.ts";

export const TOP_LEVEL_KEYS = [
  "name",
  "description",
  "extends",
  "vars",
  "backend",
  "inference",
  "model",
  "benchmark",
  "method",
  "train",
  "evaluate",
  "report",
  "executor",
  "matrix",
] as const;

/** A named task order (configs/benchmarks/mtil/orders.yaml). */
export interface TaskOrder {
  tasks: DatasetName[];
  /** The released per-task learning rates, or null when every task uses `train.lr`. */
  learningRates: number[] | null;
}

export interface SchemaContext {
  /** Folder that command-line paths resolve against. */
  cwd: string;
  /** Named orders ("I", "II"). */
  orders: ReadonlyMap<string, TaskOrder>;
  /** The name when the spec gives none (the file name). */
  defaultName: string;
  specFile: string;
}

const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads the orders file's tree: `<name>: { tasks: [...], learning_rates?: [...] }`. */
export function readOrders(root: MapNode): Map<string, TaskOrder> {
  const orders = new Map<string, TaskOrder>();
  for (const [name, entry] of root.entries) {
    const section = new Section(name, entry.value, {
      known: ["tasks", "learning_rates"],
      fallback: entry.keyOrigin,
    });
    const tasks = readDatasetList(section, "tasks") ?? [];
    if (tasks.length === 0) throw new SpecError(section.origin, `${name}.tasks: missing`);
    const ratesNode = section.get("learning_rates");
    const learningRates = ratesNode === undefined
      ? null
      : readRates(ratesNode, section.pathOf("learning_rates"), tasks.length);
    orders.set(name, { tasks, learningRates });
  }
  return orders;
}

function readRates(node: SpecNode, path: string, count: number): number[] {
  const items = listFrom(node, path, { what: "learning rates" });
  if (items.length !== count) {
    throw new SpecError(
      node.origin,
      `${path}: lists ${items.length} learning rates for ${count} tasks`,
    );
  }
  return items.map((item, index) => numberFrom(item, `${path}[${index}]`, { above: 0 }));
}

/** A list of distinct dataset names, or null when absent. */
function readDatasetList(section: Section, key: string): DatasetName[] | null {
  const node = section.get(key);
  if (node === undefined) return null;
  const path = section.pathOf(key);
  const items = listFrom(node, path, { what: "dataset names" });
  const names = items.map((item, index) =>
    choiceFrom(item, `${path}[${index}]`, { choices: DATASET_NAMES, what: "dataset" })
  );
  rejectDuplicates(names, items, path);
  return names;
}

function readModel(top: Section, cwd: string): ModelSpec {
  const section = top.section("model", ["weights", "synthetic", "tokenizer"]);
  const weights = readPath(section, "weights", cwd);
  const tokenizer = readPath(section, "tokenizer", cwd);
  const syntheticNode = section.get("synthetic");
  if (weights !== null && syntheticNode !== undefined) {
    throw new SpecError(
      syntheticNode.origin,
      "model: set either weights or synthetic, not both (set the other to null to drop it)",
    );
  }
  if (weights !== null) return { source: "weights", weights, tokenizer: tokenizer ?? weights };
  if (syntheticNode === undefined) {
    throw new SpecError(
      section.origin,
      "model: missing; set model.weights: <folder> or model.synthetic: { preset: clip-tiny }",
    );
  }
  const synthetic = section.section("synthetic", ["preset", "seed"]);
  return {
    source: "synthetic",
    preset: readChoice(synthetic, "preset", {
      choices: SYNTHETIC_MODEL_PRESETS,
      what: "model preset",
      default: "clip-tiny",
    }),
    seed: readNumber(synthetic, "seed", { integer: true, min: 0, default: 0 }),
    tokenizer,
  };
}

const SYNTHETIC_KEYS = ["classes", "images_per_class", "size", "seed", "images"];

function readBenchmarkData(section: Section, cwd: string): BenchmarkData {
  const root = readPath(section, "root", cwd);
  const syntheticNode = section.get("synthetic");
  if (root !== null && syntheticNode !== undefined) {
    throw new SpecError(
      syntheticNode.origin,
      "benchmark: set either root or synthetic, not both (set the other to null to drop it)",
    );
  }
  if (root !== null) return { source: "folder", root };
  if (syntheticNode === undefined) {
    throw new SpecError(
      section.origin,
      "benchmark: missing data; set benchmark.root: <folder> or benchmark.synthetic: {}",
    );
  }
  const synthetic = section.section("synthetic", SYNTHETIC_KEYS);
  const images = readChoice(synthetic, "images", {
    choices: SYNTHETIC_IMAGE_KINDS,
    what: "synthetic image kind",
    default: "stripes",
  });
  const classes = readNumber(synthetic, "classes", { integer: true, min: 2, default: 5 });
  if (images === "concepts" && classes > CONCEPT_CLASSES) {
    throw new SpecError(
      synthetic.originOf("classes"),
      `${synthetic.pathOf("classes")}: concept images draw at most ${CONCEPT_CLASSES} classes ` +
        `per dataset, got ${classes}`,
    );
  }
  return {
    source: "synthetic",
    classes,
    imagesPerClass: readNumber(synthetic, "images_per_class", {
      integer: true,
      min: 1,
      default: 10,
    }),
    size: readNumber(synthetic, "size", { integer: true, min: 8, default: 32 }),
    seed: readNumber(synthetic, "seed", { integer: true, min: 0, default: 0 }),
    images,
  };
}

/** Concept images exist for the mini benchmark's datasets only. */
function checkConceptDatasets(
  benchmark: ResolvedBenchmark,
  datasets: readonly DatasetName[],
  field: string,
): void {
  if (benchmark.conceptImages === null) return;
  const missing = datasets.find((name) => !CONCEPT_DATASETS.includes(name));
  if (missing === undefined) return;
  throw new SpecError(
    benchmark.conceptImages,
    `benchmark.synthetic.images: concepts draws ${CONCEPT_DATASETS.join(", ")}; ` +
      `${field} includes ${missing}, which has no concept classes`,
  );
}

interface ResolvedBenchmark {
  spec: BenchmarkSpec;
  /** Where `benchmark.synthetic.images: concepts` is set, or null without concept images. */
  conceptImages: Origin | null;
  /** The order's released per-task rates for `spec.tasks`, or null. */
  orderRates: number[] | null;
}

function readBenchmark(top: Section, context: SchemaContext): ResolvedBenchmark {
  const section = top.section("benchmark", [
    "name",
    "root",
    "synthetic",
    "order",
    "shots",
    "datasets",
    "test_limit",
  ]);
  readChoice(section, "name", { choices: ["mtil"], what: "benchmark", default: "mtil" });
  const data = readBenchmarkData(section, context.cwd);
  const orderNode = section.get("order");
  let orderName = "I";
  let order: TaskOrder;
  if (orderNode?.kind === "seq") {
    orderName = "custom";
    order = { tasks: readDatasetList(section, "order") ?? [], learningRates: null };
  } else {
    const names = [...context.orders.keys()];
    if (orderNode !== undefined) {
      const path = section.pathOf("order");
      if (orderNode.kind !== "scalar" || typeof orderNode.value !== "string") {
        throw new SpecError(
          orderNode.origin,
          `${path}: expected ${names.join(", ")} or a list of dataset names, got ${
            describe(orderNode)
          }`,
        );
      }
      orderName = choiceFrom(orderNode, path, { choices: names, what: "order" });
    }
    const named = context.orders.get(orderName);
    if (named === undefined) throw new SpecError(section.origin, `no order named "${orderName}"`);
    order = named;
  }
  let tasks = order.tasks;
  let orderRates = order.learningRates;
  const subset = readDatasetList(section, "datasets");
  if (subset !== null) {
    const subsetNode = section.get("datasets");
    subset.forEach((name, index) => {
      if (!order.tasks.includes(name) && subsetNode?.kind === "seq") {
        const item = subsetNode.items[index] ?? subsetNode;
        throw new SpecError(
          item.origin,
          `${section.pathOf("datasets")}[${index}]: "${name}" is not in ${
            orderName === "custom" ? "benchmark.order" : `order ${orderName}`
          }`,
        );
      }
    });
    const kept = order.tasks.map((name, index) => ({ name, index }))
      .filter(({ name }) => subset.includes(name));
    tasks = kept.map(({ name }) => name);
    orderRates = orderRates === null
      ? null
      : kept.map(({ index }) => order.learningRates?.[index] ?? 0);
  }
  const testLimitNode = section.get("test_limit");
  return {
    spec: {
      name: "mtil",
      data,
      orderName,
      tasks,
      shots: readNumber(section, "shots", { integer: true, min: 0, default: 5 }),
      testLimit: testLimitNode === undefined
        ? null
        : numberFrom(testLimitNode, section.pathOf("test_limit"), { integer: true, min: 1 }),
    },
    orderRates,
    conceptImages: data.source === "synthetic" && data.images === "concepts"
      ? section.section("synthetic", SYNTHETIC_KEYS).originOf("images")
      : null,
  };
}

function readMethod(top: Section): MethodSpec {
  const section = top.section("method", [
    "name",
    "rank",
    "top_k",
    "merge_top",
    "alpha",
    "dropout",
    "ago",
    "targets",
    "encoders",
    "blocks",
  ]);
  const name = readChoice(section, "name", {
    choices: METHOD_NAMES,
    what: "method",
    default: "expert-pool",
  });
  const rank = readNumber(section, "rank", { integer: true, min: 1, default: 12 });
  const topK = readNumber(section, "top_k", { integer: true, min: 1, default: 8 });
  const mergeTop = readNumber(section, "merge_top", { integer: true, min: 1, default: 4 });
  const agoSection = section.section("ago", ["weight", "critical", "past"]);
  const ago = {
    weight: readNumber(agoSection, "weight", { min: 0, default: 0.1 }),
    critical: readNumber(agoSection, "critical", { integer: true, min: 1, default: 4 }),
    past: readChoice(agoSection, "past", {
      choices: ["method", "critical", "all"] as const,
      what: "AGO past-column choice",
      default: "method",
    }),
  };
  if (EXPERT_POOL_METHODS.includes(name)) {
    // Experts are drawn from the rank-sized pool: none of these counts can exceed it.
    const bounded: [Section, string, number][] = [
      [section, "top_k", topK],
      [section, "merge_top", mergeTop],
      [agoSection, "critical", ago.critical],
    ];
    for (const [owner, key, value] of bounded) {
      if (value <= rank) continue;
      const written = owner.get(key) !== undefined;
      throw new SpecError(
        written ? owner.originOf(key) : section.originOf("rank"),
        written
          ? `${owner.pathOf(key)}: must be at most method.rank (${rank}), got ${value}`
          : `method.rank: must be at least ${
            owner.pathOf(key)
          } (${value}, the default), got ${rank}`,
      );
    }
  }
  const blocksNode = section.get("blocks");
  let blocks: "all" | number[] = "all";
  if (blocksNode !== undefined && !(blocksNode.kind === "scalar" && blocksNode.value === "all")) {
    const path = section.pathOf("blocks");
    if (blocksNode.kind !== "seq") {
      throw new SpecError(
        blocksNode.origin,
        `${path}: expected "all" or a list of block indices, got ${describe(blocksNode)}`,
      );
    }
    const items = listFrom(blocksNode, path, { what: "block indices" });
    blocks = items.map((item, index) =>
      numberFrom(item, `${path}[${index}]`, { integer: true, min: 0 })
    );
    rejectDuplicates(blocks, items, path);
  }
  return {
    name,
    rank,
    topK,
    mergeTop,
    alpha: readNumber(section, "alpha", { above: 0, default: 1 }),
    dropout: readNumber(section, "dropout", { min: 0, below: 1, default: 0.2 }),
    ago,
    targets: readChoiceList(section, "targets", {
      choices: TARGET_NAMES,
      what: "target",
      default: TARGET_NAMES,
    }),
    encoders: readChoiceList(section, "encoders", {
      choices: ENCODER_NAMES,
      what: "encoder",
      default: ENCODER_NAMES,
    }),
    blocks,
  };
}

function readTrain(top: Section, benchmark: ResolvedBenchmark): TrainSpec {
  const section = top.section("train", [
    "iterations",
    "steps",
    "batch_size",
    "lr",
    "lr_per_task",
    "weight_decay",
    "betas",
    "schedule",
    "min_lr",
    "warmup",
    "seed",
    "template",
  ]);
  const iterations = readNumber(section, "iterations", { integer: true, min: 1, default: 500 });
  const lr = readNumber(section, "lr", { above: 0, default: 2e-3 });
  const taskCount = benchmark.spec.tasks.length;
  const ratesNode = section.get("lr_per_task");
  let lrPerTask: number[];
  if (ratesNode === undefined || (ratesNode.kind === "scalar" && ratesNode.value === "order")) {
    lrPerTask = benchmark.orderRates ?? benchmark.spec.tasks.map(() => lr);
  } else if (ratesNode.kind === "seq") {
    lrPerTask = readRates(ratesNode, section.pathOf("lr_per_task"), taskCount);
  } else {
    throw new SpecError(
      ratesNode.origin,
      `${section.pathOf("lr_per_task")}: expected "order" or a list of ${taskCount} learning ` +
        `rates, got ${describe(ratesNode)}`,
    );
  }
  const betasNode = section.get("betas");
  let betas: [number, number] = [0.9, 0.999];
  if (betasNode !== undefined) {
    const path = section.pathOf("betas");
    const items = listFrom(betasNode, path, { what: "numbers" });
    if (items.length !== 2) {
      throw new SpecError(betasNode.origin, `${path}: expected 2 numbers, got ${items.length}`);
    }
    const [first, second] = items.map((item, index) =>
      numberFrom(item, `${path}[${index}]`, { min: 0, below: 1 })
    );
    betas = [first ?? 0, second ?? 0];
  }
  return {
    iterations,
    // The released loop runs `range(iterations + 1)`: one step more than the schedule's length.
    steps: readNumber(section, "steps", { integer: true, min: 1, default: iterations + 1 }),
    batchSize: readNumber(section, "batch_size", { integer: true, min: 1, default: 32 }),
    lr,
    lrPerTask,
    weightDecay: readNumber(section, "weight_decay", { min: 0, default: 0.01 }),
    betas,
    schedule: readChoice(section, "schedule", {
      choices: SCHEDULE_NAMES,
      what: "schedule",
      default: "cosine",
    }),
    minLr: readNumber(section, "min_lr", { min: 0, default: 1e-6 }),
    warmup: readNumber(section, "warmup", {
      integer: true,
      min: 0,
      below: iterations,
      default: 0,
    }),
    seed: readNumber(section, "seed", { integer: true, min: 0, default: 42 }),
    template: readChoice(section, "template", {
      choices: TEMPLATE_CHOICES,
      what: "template choice",
      default: "first",
    }),
  };
}

function readEvaluate(top: Section, tasks: DatasetName[]): EvaluateSpec {
  const section = top.section("evaluate", [
    "every_task",
    "zero_shot_row",
    "datasets",
    "batch_size",
  ]);
  const datasetsNode = section.get("datasets");
  const datasets = datasetsNode === undefined ||
      (datasetsNode.kind === "scalar" && datasetsNode.value === "all")
    ? [...tasks]
    : readDatasetList(section, "datasets") ?? [];
  return {
    everyTask: readBoolean(section, "every_task", true),
    zeroShotRow: readBoolean(section, "zero_shot_row", true),
    datasets,
    batchSize: readNumber(section, "batch_size", { integer: true, min: 1, default: 64 }),
  };
}

function readInference(top: Section): InferenceSpec {
  const section = top.section("inference", ["engine", "device"]);
  const engine = readChoice(section, "engine", {
    choices: ENGINE_NAMES,
    what: "inference engine",
    default: "auto",
  });
  const device = readChoice(section, "device", {
    choices: DEVICE_NAMES,
    what: "inference device",
    default: "auto",
  });
  if (engine === "tfjs" && device !== "auto") {
    throw new SpecError(
      section.originOf("device"),
      `inference.device: ${device} is a device of ONNX Runtime; engine tfjs runs on the ` +
        `\`backend\` setting, so leave device at auto (or use engine onnx or auto)`,
    );
  }
  return { engine, device };
}

function readReport(top: Section, cwd: string): ReportSpec {
  const section = top.section("report", ["reference", "formats", "plots"]);
  return {
    reference: readPath(section, "reference", cwd),
    formats: readChoiceList(section, "formats", {
      choices: REPORT_FORMATS,
      what: "report format",
      default: REPORT_FORMATS,
    }),
    plots: readChoiceList(section, "plots", {
      choices: PLOT_NAMES,
      what: "plot",
      default: PLOT_NAMES,
    }),
  };
}

/** Validates one run's tree (no extends, vars or matrix left) into a Pipeline. */
export function toPipeline(
  root: MapNode,
  context: SchemaContext,
): Omit<Pipeline, "runName" | "matrixPoint"> {
  const top = new Section("", root, { known: TOP_LEVEL_KEYS, fallback: root.origin });
  const name = readString(top, "name", context.defaultName);
  if (!RUN_NAME.test(name)) {
    throw new SpecError(
      top.originOf("name"),
      `name: "${name}" may hold only letters, digits, ".", "_" and "-" (it names result folders)`,
    );
  }
  const benchmark = readBenchmark(top, context);
  const evaluate = readEvaluate(top, benchmark.spec.tasks);
  checkConceptDatasets(benchmark, benchmark.spec.tasks, "the task order");
  checkConceptDatasets(benchmark, evaluate.datasets, "evaluate.datasets");
  return {
    name,
    description: readString(top, "description", ""),
    specFile: context.specFile,
    backend: readChoice(top, "backend", {
      choices: BACKEND_NAMES,
      what: "backend",
      default: "auto",
    }),
    inference: readInference(top),
    model: readModel(top, context.cwd),
    benchmark: benchmark.spec,
    method: readMethod(top),
    train: readTrain(top, benchmark),
    evaluate,
    report: readReport(top, context.cwd),
    executor: readExecutor(top),
  };
}
