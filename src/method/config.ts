/**
 * What a continual-learning method does, as data. Every variant (the paper's expert pool, its
 * ablations, plain LoRA, full fine-tuning, zero-shot) is one `MethodConfig`; the training code
 * reads the fields below and never branches on the method's name. The named presets live in
 * `configs/methods/<name>.yaml`.
 */
import { parseDocument } from "yaml";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import { type EncoderName, LINEAR_TARGETS, type LinearTarget } from "../clip/arch.ts";

export const METHOD_PRESETS = [
  "expert-pool",
  "expert-pool-ago-critical",
  "expert-pool-no-ago",
  "ago-no-routing",
  "expert-pool-trainable-router",
  "lora",
  "full-finetune",
  "zero-shot",
] as const;
export type MethodPreset = typeof METHOD_PRESETS[number];

/**
 * - `expert-pool`: a rank-`rank` LoRA whose rank-1 components are experts, on the adapted linears.
 * - `full`: every backbone weight is trained (a reference on small models).
 * - `none`: nothing trains (zero-shot CLIP).
 */
export type AdapterKind = "expert-pool" | "full" | "none";

/**
 * - `router-vote`: per module a router scores the experts on token 0, each sample votes for its
 *   top-`topK`, the `topK` most-voted experts form the batch's mask (the release).
 * - `all`: every expert is active on every batch (plain LoRA); votes count every expert once per
 *   sample so activation statistics stay comparable.
 */
export type RoutingKind = "router-vote" | "all";

/**
 * - `frozen`: the router reaches the loss only through top-k indices, so it gets no gradient and
 *   stays at its initialisation (the release).
 * - `straight-through`: the selected experts' branch is scaled by `1 + p - stop_gradient(p)` with
 *   `p` the sample's router probability: the forward value is exactly the release's, the backward
 *   pass gives the router the gradient of a soft gate (see docs/method.md).
 */
export type RouterTraining = "frozen" | "straight-through";

/**
 * Which experts' B columns an AGO term uses: the `critical` most-activated ones, or all `rank`.
 * For earlier tasks the release keeps `all` (its loader looks for `num` one level too high), and
 * that produced the published numbers; `critical` is the paper's description.
 */
export type AgoColumns = "critical" | "all";

export interface AgoConfig {
  /** Whether the method has the AGO term at all (a variant's behaviour, not a number to tune). */
  enabled: boolean;
  /** Weight of the AGO term in the loss. */
  weight: number;
  /** Most-activated experts per task whose B columns enter the term (4 in the release). */
  critical: number;
  /** Current task's columns: top-`critical` by running activation counts, or all. */
  current: AgoColumns;
  /** Earlier tasks' columns kept in the bank: `all` in the release, `critical` as described. */
  past: AgoColumns;
}

export interface MethodConfig {
  name: string;
  adapter: AdapterKind;
  routing: RoutingKind;
  router: RouterTraining;
  /** After a task: merge the `mergeTop` most-activated experts (`top`) or all `rank` (`all`). */
  merge: "top" | "all";
  /** Experts in the pool = LoRA rank r. */
  rank: number;
  /** Experts each sample votes for, and experts active per batch. */
  topK: number;
  /** Most-activated experts merged into the weights after each task. */
  mergeTop: number;
  /** The LoRA update is scaled by alpha / rank. */
  alpha: number;
  /** Dropout on the LoRA branch input (training only). */
  dropout: number;
  ago: AgoConfig;
  targets: LinearTarget[];
  encoders: EncoderName[];
  /** Adapted transformer blocks: "all" or 0-based block indices. */
  blocks: "all" | number[];
  /**
   * The method's learning rate as a multiple of the pipeline's (`train.lr`, and `min_lr` with
   * it); absent = 1. Full fine-tuning moves every pretrained weight where an adapter's update
   * starts at zero and is scaled by alpha / rank, so it needs a far smaller step: ZSCL trains the
   * whole CLIP at 1e-5 where adapters train at 1e-3 to 2e-3.
   */
  lrScale?: number;
}

/** The release's settings (arXiv 2601.22828 and Fazhan-cs/DAC). */
export const EXPERT_POOL_DEFAULTS: MethodConfig = {
  name: "expert-pool",
  adapter: "expert-pool",
  routing: "router-vote",
  router: "frozen",
  merge: "top",
  rank: 12,
  topK: 8,
  mergeTop: 4,
  alpha: 1,
  dropout: 0.2,
  ago: { enabled: true, weight: 0.1, critical: 4, current: "critical", past: "all" },
  targets: [...LINEAR_TARGETS],
  encoders: ["vision", "text"],
  blocks: "all",
};

/** Experts merged after a task. */
export function mergedExpertCount(config: MethodConfig): number {
  return config.merge === "all" ? config.rank : config.mergeTop;
}

/** Experts active on a batch. */
export function activeExpertCount(config: MethodConfig): number {
  return config.routing === "all" ? config.rank : config.topK;
}

/** Whether the adapter has a router with parameters (counted and saved). */
export function hasRouter(config: MethodConfig): boolean {
  return config.adapter === "expert-pool" && config.routing === "router-vote";
}

/** True when `block` of an encoder carries adapters under this config. */
export function adaptsBlock(config: MethodConfig, block: number): boolean {
  return config.blocks === "all" || config.blocks.includes(block);
}

const PRESET_DIR = fileURLToPath(new URL("../../configs/methods/", import.meta.url));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(where: string, message: string): never {
  throw new UserError(`${where}: ${message}`);
}

function readNumber(
  value: unknown,
  where: string,
  check: { integer?: boolean; min?: number; max?: number } = {},
): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(where, `expected a number, got ${JSON.stringify(value)}`);
  }
  if (check.integer && !Number.isInteger(value)) fail(where, `expected an integer, got ${value}`);
  if (check.min !== undefined && value < check.min) fail(where, `must be >= ${check.min}`);
  if (check.max !== undefined && value > check.max) fail(where, `must be <= ${check.max}`);
  return value;
}

function readChoice<T extends string>(value: unknown, choices: readonly T[], where: string): T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    fail(where, `expected one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function readChoices<T extends string>(value: unknown, choices: readonly T[], where: string): T[] {
  if (!Array.isArray(value) || value.length === 0) fail(where, "expected a non-empty list");
  return value.map((item, i) => readChoice(item, choices, `${where}[${i}]`));
}

const KEYS = [
  "name",
  "adapter",
  "routing",
  "router",
  "merge",
  "rank",
  "top_k",
  "merge_top",
  "alpha",
  "dropout",
  "ago",
  "targets",
  "encoders",
  "blocks",
  "lr_scale",
] as const;
const AGO_KEYS = ["enabled", "weight", "critical", "current", "past"] as const;

/**
 * Applies a snake_case mapping (the YAML `method:` section) over `base`. Unknown keys and bad
 * values are `UserError`s naming `where` and the key.
 */
export function parseMethodConfig(
  value: unknown,
  base: MethodConfig,
  where: string,
): MethodConfig {
  if (!isRecord(value)) fail(where, "expected a mapping");
  for (const key of Object.keys(value)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      fail(where, `unknown key "${key}" (known: ${KEYS.join(", ")})`);
    }
  }
  const config: MethodConfig = structuredClone(base);
  if ("name" in value) {
    if (typeof value.name !== "string" || value.name === "") {
      fail(`${where}.name`, "expected a non-empty string");
    }
    config.name = value.name;
  }
  if ("adapter" in value) {
    config.adapter = readChoice(value.adapter, ["expert-pool", "full", "none"], `${where}.adapter`);
  }
  if ("routing" in value) {
    config.routing = readChoice(value.routing, ["router-vote", "all"], `${where}.routing`);
  }
  if ("router" in value) {
    config.router = readChoice(value.router, ["frozen", "straight-through"], `${where}.router`);
  }
  if ("merge" in value) config.merge = readChoice(value.merge, ["top", "all"], `${where}.merge`);
  if ("rank" in value) {
    config.rank = readNumber(value.rank, `${where}.rank`, { integer: true, min: 1 });
  }
  if ("top_k" in value) {
    config.topK = readNumber(value.top_k, `${where}.top_k`, { integer: true, min: 1 });
  }
  if ("merge_top" in value) {
    config.mergeTop = readNumber(value.merge_top, `${where}.merge_top`, { integer: true, min: 0 });
  }
  if ("alpha" in value) config.alpha = readNumber(value.alpha, `${where}.alpha`);
  if ("dropout" in value) {
    config.dropout = readNumber(value.dropout, `${where}.dropout`, { min: 0, max: 0.999 });
  }
  if ("ago" in value) {
    const ago = value.ago;
    if (!isRecord(ago)) fail(`${where}.ago`, "expected a mapping");
    for (const key of Object.keys(ago)) {
      if (!(AGO_KEYS as readonly string[]).includes(key)) {
        fail(`${where}.ago`, `unknown key "${key}" (known: ${AGO_KEYS.join(", ")})`);
      }
    }
    if ("enabled" in ago) {
      if (typeof ago.enabled !== "boolean") fail(`${where}.ago.enabled`, "expected true or false");
      config.ago.enabled = ago.enabled;
    }
    if ("weight" in ago) {
      config.ago.weight = readNumber(ago.weight, `${where}.ago.weight`, { min: 0 });
    }
    if ("critical" in ago) {
      config.ago.critical = readNumber(ago.critical, `${where}.ago.critical`, {
        integer: true,
        min: 1,
      });
    }
    if ("current" in ago) {
      config.ago.current = readChoice(ago.current, ["critical", "all"], `${where}.ago.current`);
    }
    if ("past" in ago) {
      config.ago.past = readChoice(ago.past, ["critical", "all"], `${where}.ago.past`);
    }
  }
  if ("targets" in value) {
    config.targets = readChoices(value.targets, LINEAR_TARGETS, `${where}.targets`);
  }
  if ("encoders" in value) {
    config.encoders = readChoices(value.encoders, ["vision", "text"], `${where}.encoders`);
  }
  if ("blocks" in value) {
    if (value.blocks === "all") config.blocks = "all";
    else if (Array.isArray(value.blocks)) {
      config.blocks = value.blocks.map((b, i) =>
        readNumber(b, `${where}.blocks[${i}]`, { integer: true, min: 0 })
      );
    } else fail(`${where}.blocks`, `expected "all" or a list of block indices`);
  }
  if ("lr_scale" in value) {
    config.lrScale = readNumber(value.lr_scale, `${where}.lr_scale`);
    if (config.lrScale <= 0) fail(`${where}.lr_scale`, "must be > 0");
  }
  validateMethodConfig(config, where);
  return config;
}

/** Cross-field checks: counts that must fit in the pool. */
export function validateMethodConfig(config: MethodConfig, where: string): void {
  if (config.adapter !== "expert-pool") return;
  if (config.topK > config.rank) {
    fail(`${where}.top_k`, `${config.topK} exceeds rank ${config.rank}`);
  }
  if (config.mergeTop > config.rank) {
    fail(`${where}.merge_top`, `${config.mergeTop} exceeds rank ${config.rank}`);
  }
  if (config.ago.critical > config.rank) {
    fail(`${where}.ago.critical`, `${config.ago.critical} exceeds rank ${config.rank}`);
  }
}

/**
 * The named preset `configs/methods/<name>.yaml` (its `method:` section over the release's
 * defaults), then `overrides` (a snake_case mapping, e.g. a pipeline's `method:` section).
 */
export function loadMethodConfig(name: string, overrides?: Record<string, unknown>): MethodConfig {
  if (!/^[a-z0-9-]+$/.test(name)) {
    throw new UserError(`Unknown method "${name}" (known: ${METHOD_PRESETS.join(", ")})`);
  }
  const path = `${PRESET_DIR}${name}.yaml`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(`Unknown method "${name}" (known: ${METHOD_PRESETS.join(", ")})`);
    }
    throw error;
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new UserError(`Cannot load ${path}: ${document.errors[0]!.message}`);
  }
  const root = document.toJS() as unknown;
  if (!isRecord(root) || !("method" in root)) fail(path, `expected a top-level "method:" mapping`);
  const preset = parseMethodConfig(root.method, EXPERT_POOL_DEFAULTS, `${path}: method`);
  if (overrides === undefined) return preset;
  return parseMethodConfig({ ...overrides, name: overrides.name ?? preset.name }, preset, "method");
}

/** The shape of a compiled pipeline's `method` section (camelCase, every field resolved). */
export interface MethodSettings {
  name: string;
  rank: number;
  topK: number;
  mergeTop: number;
  alpha: number;
  dropout: number;
  /** `past`: "method" (or absent) keeps the preset's choice. */
  ago: { weight: number; critical: number; past?: "method" | AgoColumns };
  targets: readonly LinearTarget[];
  encoders: readonly EncoderName[];
  blocks: "all" | readonly number[];
}

/**
 * A pipeline's resolved method section: the behaviour (adapter, routing, router, merge, AGO on or
 * off and its columns) comes from the preset named `settings.name`; the numbers from `settings`.
 */
export function methodConfigFromSettings(settings: MethodSettings): MethodConfig {
  const preset = loadMethodConfig(settings.name);
  const config: MethodConfig = {
    ...preset,
    rank: settings.rank,
    topK: settings.topK,
    mergeTop: settings.mergeTop,
    alpha: settings.alpha,
    dropout: settings.dropout,
    ago: {
      ...preset.ago,
      weight: settings.ago.weight,
      critical: settings.ago.critical,
      past: settings.ago.past === undefined || settings.ago.past === "method"
        ? preset.ago.past
        : settings.ago.past,
    },
    targets: [...settings.targets],
    encoders: [...settings.encoders],
    blocks: settings.blocks === "all" ? "all" : [...settings.blocks],
  };
  validateMethodConfig(config, `method (${settings.name})`);
  return config;
}
