/**
 * Published MTIL figures (`configs/benchmarks/mtil/reference.yaml`): groups (one setting and
 * order each) of rows (one method each), each row with Transfer / Average / Last blocks whose
 * cells are keyed by dataset name, so a table can place them in any run's column order. A group
 * may also hold published efficiency figures (the paper's Table 2): trainable parameters, peak
 * memory, training and inference speed, and the device they were measured on.
 */
import { isMap, LineCounter, parseDocument } from "yaml";
import { UserError } from "../errors.ts";
import { isMtilDataset } from "./benchmark.ts";
import { METRIC_NAMES, type MetricName } from "./metrics.ts";

/** One metric of one row: mean (null = unknown) and the known per-dataset cells. */
export interface ReferenceBlock {
  mean: number | null;
  perDataset: Record<string, number>;
}

export interface ReferenceRow {
  name: string;
  source: string | null;
  transfer: ReferenceBlock;
  average: ReferenceBlock;
  last: ReferenceBlock;
}

/** One method's published efficiency figures; null = not published. */
export interface EfficiencyReferenceRow {
  name: string;
  source: string | null;
  /** The device measured on (the block's device unless the row names its own). */
  device: string | null;
  /** Trainable parameters in MB (fp32, 2^20 bytes), as the paper prints them. */
  trainableMb: number | null;
  /** Peak GPU memory of training in MB. */
  peakMemoryMb: number | null;
  /** Training iterations (optimiser steps) per second. */
  trainItPerSecond: number | null;
  /** Inference iterations per second (the paper's loop; its batch size is not stated). */
  inferenceItPerSecond: number | null;
}

export interface EfficiencyReference {
  source: string | null;
  /** The device all rows were measured on, unless a row names its own. */
  device: string | null;
  rows: EfficiencyReferenceRow[];
}

export interface ReferenceGroup {
  name: string;
  description: string;
  setting: string | null;
  order: string | null;
  compareWith: string | null;
  rows: ReferenceRow[];
  /** Published efficiency figures of this setting, or null. */
  efficiency: EfficiencyReference | null;
}

export interface ReferenceFile {
  path: string;
  defaultGroup: string | null;
  groups: ReferenceGroup[];
}

/** The reference file kept in the repository. */
export const DEFAULT_REFERENCE_PATH = decodeURIComponent(
  new URL("../../configs/benchmarks/mtil/reference.yaml", import.meta.url).pathname,
);

type Where = (node: unknown) => string;

/** The first line of a YAML parser message, without its own "at line L, column C:" suffix. */
function yamlMessage(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
}

function objectAt(value: unknown, what: string, where: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UserError(`${where}: ${what} must be a mapping`);
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, what: string, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number") return String(value);
  throw new UserError(`${where}: ${what} must be a string`);
}

function parseBlock(value: unknown, what: string, where: string): ReferenceBlock {
  if (value === undefined || value === null) return { mean: null, perDataset: {} };
  const raw = objectAt(value, what, where);
  const mean = raw.mean ?? null;
  if (mean !== null && typeof mean !== "number") {
    throw new UserError(`${where}: ${what}.mean must be a number or null`);
  }
  const perDataset: Record<string, number> = {};
  const cells = raw.per_dataset ?? {};
  for (const [dataset, cell] of Object.entries(objectAt(cells, `${what}.per_dataset`, where))) {
    if (!isMtilDataset(dataset)) {
      throw new UserError(`${where}: ${what}.per_dataset names unknown dataset "${dataset}"`);
    }
    if (cell === null) continue;
    if (typeof cell !== "number") {
      throw new UserError(`${where}: ${what}.per_dataset.${dataset} must be a number`);
    }
    perDataset[dataset] = cell;
  }
  return { mean, perDataset };
}

/** The figure keys of an efficiency row (YAML) and the field each fills. */
const EFFICIENCY_FIGURES = {
  trainable_mb: "trainableMb",
  peak_memory_mb: "peakMemoryMb",
  train_it_per_s: "trainItPerSecond",
  inference_it_per_s: "inferenceItPerSecond",
} as const;

function parseEfficiency(value: unknown, node: unknown, where: Where): EfficiencyReference | null {
  if (value === undefined || value === null) return null;
  const at = where(node);
  const raw = objectAt(value, "efficiency", at);
  if (!Array.isArray(raw.rows)) throw new UserError(`${at}: efficiency needs rows`);
  const rowsNode = isMap(node) ? node.get("rows", true) : undefined;
  const device = optionalString(raw.device, "efficiency.device", at);
  const rows = raw.rows.map((rowValue, index): EfficiencyReferenceRow => {
    const rowAt = where((rowsNode as { items?: unknown[] } | undefined)?.items?.[index]);
    const row = objectAt(rowValue, `efficiency row ${index + 1}`, rowAt);
    const name = optionalString(row.name, "name", rowAt);
    if (name === null) throw new UserError(`${rowAt}: every efficiency row needs a name`);
    const parsed: EfficiencyReferenceRow = {
      name,
      source: optionalString(row.source, "source", rowAt),
      device: optionalString(row.device, "device", rowAt) ?? device,
      trainableMb: null,
      peakMemoryMb: null,
      trainItPerSecond: null,
      inferenceItPerSecond: null,
    };
    for (const [key, cell] of Object.entries(row)) {
      if (key === "name" || key === "source" || key === "device") continue;
      if (!(key in EFFICIENCY_FIGURES)) {
        throw new UserError(
          `${rowAt}: efficiency row "${name}" has unknown key "${key}" (known: name, source, ` +
            `device, ${Object.keys(EFFICIENCY_FIGURES).join(", ")})`,
        );
      }
      if (cell === null) continue;
      if (typeof cell !== "number" || !(cell >= 0)) {
        throw new UserError(`${rowAt}: ${key} of "${name}" must be a non-negative number`);
      }
      parsed[EFFICIENCY_FIGURES[key as keyof typeof EFFICIENCY_FIGURES]] = cell;
    }
    return parsed;
  });
  return { source: optionalString(raw.source, "efficiency.source", at), device, rows };
}

/** Parses reference YAML text; `path` names it in messages, with line:column where known. */
export function parseReference(text: string, path: string): ReferenceFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw new UserError(`Cannot read ${path}:${line}:${col}: ${yamlMessage(error.message)}`);
  }
  // "path:line:column" of a node of the document, so a bad cell is easy to find.
  const where: Where = (node) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return path;
    const { line, col } = lineCounter.linePos(range[0]);
    return `${path}:${line}:${col}`;
  };
  const root = objectAt(document.toJS(), "the file", path);
  const groupsNode = isMap(document.contents) ? document.contents.get("groups", true) : undefined;
  const groups = objectAt(root.groups, "groups", where(groupsNode));
  const result: ReferenceGroup[] = [];
  for (const [groupName, groupValue] of Object.entries(groups)) {
    const groupNode = isMap(groupsNode) ? groupsNode.get(groupName, true) : undefined;
    const at = where(groupNode);
    const group = objectAt(groupValue, `group "${groupName}"`, at);
    if (!Array.isArray(group.rows)) throw new UserError(`${at}: group "${groupName}" needs rows`);
    const rowsNode = isMap(groupNode) ? groupNode.get("rows", true) : undefined;
    const rows = group.rows.map((rowValue, index) => {
      const rowNode = (rowsNode as { items?: unknown[] } | undefined)?.items?.[index];
      const rowAt = where(rowNode);
      const row = objectAt(rowValue, `row ${index + 1} of "${groupName}"`, rowAt);
      const name = optionalString(row.name, "name", rowAt);
      if (name === null) throw new UserError(`${rowAt}: every row needs a name`);
      const blocks = Object.fromEntries(
        METRIC_NAMES.map((metric) => [metric, parseBlock(row[metric], metric, rowAt)]),
      ) as Record<MetricName, ReferenceBlock>;
      return { name, source: optionalString(row.source, "source", rowAt), ...blocks };
    });
    result.push({
      name: groupName,
      description: optionalString(group.description, "description", at) ?? "",
      setting: optionalString(group.setting, "setting", at),
      order: optionalString(group.order, "order", at),
      compareWith: optionalString(group.compare_with, "compare_with", at),
      rows,
      efficiency: parseEfficiency(
        group.efficiency,
        isMap(groupNode) ? groupNode.get("efficiency", true) : undefined,
        where,
      ),
    });
  }
  const defaultNode = isMap(document.contents)
    ? document.contents.get("default_group", true)
    : undefined;
  const defaultGroup = optionalString(root.default_group, "default_group", where(defaultNode));
  if (defaultGroup !== null && !result.some((group) => group.name === defaultGroup)) {
    throw new UserError(`${where(defaultNode)}: default_group "${defaultGroup}" is not a group`);
  }
  return { path, defaultGroup, groups: result };
}

/** Reads a reference file (see configs/benchmarks/mtil/reference.yaml for the layout). */
export async function loadReference(path: string = DEFAULT_REFERENCE_PATH): Promise<ReferenceFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UserError(`Cannot read reference ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseReference(text, path);
}

/** A group by name, or the file's default group (else its first). */
export function referenceGroup(file: ReferenceFile, name?: string): ReferenceGroup {
  const wanted = name ?? file.defaultGroup ?? file.groups[0]?.name;
  const group = file.groups.find((candidate) => candidate.name === wanted);
  if (group === undefined) {
    throw new UserError(
      `${file.path}: no group "${wanted}" (groups: ${file.groups.map((g) => g.name).join(", ")})`,
    );
  }
  return group;
}

/** A row of a group by name; a missing name is a UserError listing the rows. */
/**
 * The group published for a run's setting (`shots`: 0 = full-shot) and task order, else the
 * file's default group: a full-shot Order I run is compared with ZSCL's full-shot figures, the
 * paper's setting with the paper's Table 1 slot.
 */
export function settingGroup(
  file: ReferenceFile,
  run: { shots: number; orderName: string },
): ReferenceGroup {
  const setting = run.shots === 0 ? "full-shot" : `${run.shots}-shot`;
  const found = file.groups.find((group) =>
    group.setting === setting && group.order === run.orderName
  );
  return found ?? referenceGroup(file);
}

export function referenceRow(group: ReferenceGroup, name: string): ReferenceRow {
  const row = group.rows.find((candidate) => candidate.name === name);
  if (row === undefined) {
    throw new UserError(
      `Reference group "${group.name}" has no row "${name}" (rows: ${
        group.rows.map((r) => r.name).join(", ")
      })`,
    );
  }
  return row;
}

/** Whether a row holds any figure at all (the paper's slot stays empty until filled). */
export function hasFigures(row: ReferenceRow): boolean {
  return METRIC_NAMES.some((metric) =>
    row[metric].mean !== null || Object.keys(row[metric].perDataset).length > 0
  );
}

/**
 * The published efficiency figures to show beside a run compared with `group`: the group's own,
 * else those of the file's default group, else of the first group that has any; null when the
 * file has none. Speed and memory per step do not depend on the shot count or the order.
 */
export function efficiencyReference(
  file: ReferenceFile,
  group?: ReferenceGroup,
): { group: string; efficiency: EfficiencyReference } | null {
  const candidates = [
    group,
    file.groups.find((candidate) => candidate.name === file.defaultGroup),
    ...file.groups,
  ];
  const found = candidates.find((candidate) => candidate?.efficiency != null);
  return found === undefined ? null : { group: found.name, efficiency: found.efficiency! };
}
