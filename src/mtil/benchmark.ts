/**
 * The MTIL benchmark's facts, typed: the 11 datasets (display name, class count, split sizes,
 * templates, hand-fixed class names) from `configs/benchmarks/mtil/classnames.json`, and the task
 * orders (Order II with its per-task learning rates) from `configs/benchmarks/mtil/orders.yaml`.
 */
import { parse as parseYaml } from "yaml";
import { UserError } from "../errors.ts";
import benchmarkFile from "../../configs/benchmarks/mtil/classnames.json" with { type: "json" };

export const MTIL_DATASETS = [
  "Aircraft",
  "Caltech101",
  "CIFAR100",
  "DTD",
  "EuroSAT",
  "Flowers",
  "Food",
  "MNIST",
  "OxfordPet",
  "StanfordCars",
  "SUN397",
] as const;

export type MtilDataset = typeof MTIL_DATASETS[number];
export type OrderName = "I" | "II";

export interface DatasetInfo {
  name: MtilDataset;
  /** The column header papers use (StanfordCars is "Cars"). */
  display: string;
  classes: number;
  trainSize: number;
  testSize: number;
  /** Where the data comes from and how it is split, in words. */
  source: string;
  /** Prompt templates; `{}` stands for the class name. */
  templates: string[];
  /** The benchmark's own class names, or null when they come from the dataset's files. */
  classnames: string[] | null;
}

export interface TaskOrder {
  name: OrderName;
  tasks: MtilDataset[];
  /** One learning rate per task where the order fixes them (Order II); null otherwise. */
  learningRates: number[] | null;
}

const ORDERS_URL = new URL("../../configs/benchmarks/mtil/orders.yaml", import.meta.url);

export function isMtilDataset(name: string): name is MtilDataset {
  return (MTIL_DATASETS as readonly string[]).includes(name);
}

/** Facts about one MTIL dataset; an unknown name is a UserError listing the known ones. */
export function datasetInfo(name: string): DatasetInfo {
  if (!isMtilDataset(name)) {
    throw new UserError(
      `Unknown MTIL dataset "${name}" (known: ${MTIL_DATASETS.join(", ")})`,
    );
  }
  const entry = benchmarkFile.datasets[name];
  return {
    name,
    display: entry.display,
    classes: entry.classes,
    trainSize: entry.train_size,
    testSize: entry.test_size,
    source: entry.source,
    templates: [...entry.templates],
    classnames: entry.classnames === null ? null : [...entry.classnames],
  };
}

/** The display name of a dataset ("StanfordCars" -> "Cars"); unknown names pass through. */
export function displayName(name: string): string {
  return isMtilDataset(name) ? benchmarkFile.datasets[name].display : name;
}

let ordersCache: Record<OrderName, TaskOrder> | null = null;

function loadOrders(): Record<OrderName, TaskOrder> {
  if (ordersCache !== null) return ordersCache;
  const path = decodeURIComponent(ORDERS_URL.pathname);
  const raw = parseYaml(Deno.readTextFileSync(path)) as Record<string, unknown>;
  const result: Partial<Record<OrderName, TaskOrder>> = {};
  for (const name of ["I", "II"] as const) {
    const entry = raw[name] as { tasks?: unknown; learning_rates?: unknown } | undefined;
    const tasks = entry?.tasks;
    if (!Array.isArray(tasks) || tasks.length !== 11 || !tasks.every(isMtilDataset)) {
      throw new UserError(`Cannot load ${path}: order ${name} must list the 11 MTIL datasets`);
    }
    const rates = entry?.learning_rates ?? null;
    if (
      rates !== null &&
      (!Array.isArray(rates) || rates.length !== 11 || !rates.every((r) => typeof r === "number"))
    ) {
      throw new UserError(`Cannot load ${path}: order ${name} needs 11 numeric learning_rates`);
    }
    result[name] = { name, tasks: [...tasks], learningRates: rates === null ? null : [...rates] };
  }
  ordersCache = result as Record<OrderName, TaskOrder>;
  return ordersCache;
}

/** A task order by name ("I" or "II"): its datasets in training order and learning rates. */
export function order(name: string): TaskOrder {
  if (name !== "I" && name !== "II") {
    throw new UserError(`Unknown MTIL order "${name}" (known: I, II)`);
  }
  const found = loadOrders()[name];
  return { ...found, tasks: [...found.tasks], learningRates: found.learningRates?.slice() ?? null };
}
