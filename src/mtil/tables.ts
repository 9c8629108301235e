/**
 * MTIL result tables as papers print them: rows = methods (a run's rows, then reference rows),
 * columns = the datasets in the run's task order + Mean, in Transfer, Average and Last blocks.
 * A run's cells can carry their difference to one reference row: `74.1 (+1.2)`.
 * Formats: Markdown, CSV, LaTeX (booktabs) and JSON.
 */
import { displayName } from "./benchmark.ts";
import type { AccuracyMatrix } from "./matrix.ts";
import {
  computeMetrics,
  METRIC_NAMES,
  type MetricName,
  type MtilMetrics,
  zeroShotMetrics,
} from "./metrics.ts";
import {
  hasFigures,
  type ReferenceBlock,
  type ReferenceGroup,
  type ReferenceRow,
  referenceRow,
} from "./reference.ts";

export type TableFormat = "md" | "csv" | "latex" | "json";
export const TABLE_FORMATS: readonly TableFormat[] = ["md", "csv", "latex", "json"];

/** One row of the tables; cells keyed by dataset name (null mean = unknown). */
export interface TableRow {
  name: string;
  /**
   * "run": a trained model's row, compared to the reference row when there is one;
   * "zero-shot": the run's own zero-shot row (never compared); "reference": published figures.
   */
  kind: "run" | "zero-shot" | "reference";
  transfer: ReferenceBlock;
  average: ReferenceBlock;
  last: ReferenceBlock;
}

export interface MtilTable {
  /** Dataset names in the run's task order: the column order. */
  datasets: string[];
  rows: TableRow[];
  /** The reference row each run row's cells are compared to, if any. */
  compareWith: TableRow | null;
  /** Lines printed under the tables (e.g. a mismatch of order between run and reference). */
  notes: string[];
}

const METRIC_TITLES: Record<MetricName, string> = {
  transfer: "Transfer",
  average: "Average",
  last: "Last",
};

/** A run's metrics (per-dataset arrays in task order) as a table row keyed by dataset. */
export function runRow(
  name: string,
  run: { metrics: MtilMetrics; datasets: string[]; kind?: "run" | "zero-shot" },
): TableRow {
  const blockOf = (metric: MetricName): ReferenceBlock => {
    const perDataset: Record<string, number> = {};
    run.metrics[metric].perDataset.forEach((value, j) => {
      const dataset = run.datasets[j];
      if (value !== null && dataset !== undefined) perDataset[dataset] = value;
    });
    return { mean: run.metrics[metric].mean, perDataset };
  };
  return {
    name,
    kind: run.kind ?? "run",
    transfer: blockOf("transfer"),
    average: blockOf("average"),
    last: blockOf("last"),
  };
}

/** A published row as a table row. */
export function referenceTableRow(row: ReferenceRow): TableRow {
  return {
    name: row.name,
    kind: "reference",
    transfer: row.transfer,
    average: row.average,
    last: row.last,
  };
}

interface Cell {
  value: number | null;
  /** ours - reference, when this is a run row and the reference has the cell. */
  difference: number | null;
}

/** The cells of one row in one block: one per dataset, then the mean. */
function rowCells(table: MtilTable, row: TableRow, metric: MetricName): Cell[] {
  const reference = row.kind === "run" ? table.compareWith?.[metric] ?? null : null;
  const cell = (value: number | undefined | null, referenceValue: number | undefined | null) => ({
    value: value ?? null,
    difference: value != null && referenceValue != null ? value - referenceValue : null,
  });
  return [
    ...table.datasets.map((dataset) =>
      cell(row[metric].perDataset[dataset], reference?.perDataset[dataset])
    ),
    cell(row[metric].mean, reference?.mean),
  ];
}

function fixed(value: number): string {
  // Avoid "-0.0" for a tiny negative that rounds to zero.
  const text = value.toFixed(1);
  return text === "-0.0" ? "0.0" : text;
}

function signed(value: number): string {
  const text = fixed(value);
  return text.startsWith("-") ? text : `+${text}`;
}

function plainCell(cell: Cell, empty: string): string {
  if (cell.value === null) return empty;
  return cell.difference === null
    ? fixed(cell.value)
    : `${fixed(cell.value)} (${signed(cell.difference)})`;
}

function headers(table: MtilTable): string[] {
  return [...table.datasets.map(displayName), "Mean"];
}

function renderMarkdown(table: MtilTable): string {
  const lines: string[] = [];
  for (const metric of METRIC_NAMES) {
    lines.push(`### ${METRIC_TITLES[metric]}`, "");
    lines.push(`| Method | ${headers(table).join(" | ")} |`);
    lines.push(`|---|${headers(table).map(() => "---:").join("|")}|`);
    for (const row of table.rows) {
      const cells = rowCells(table, row, metric).map((cell) => plainCell(cell, "–"));
      lines.push(`| ${row.name} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }
  if (table.compareWith !== null) {
    lines.push(`Differences in parentheses: run minus ${table.compareWith.name}.`);
  }
  for (const note of table.notes) lines.push(`Note: ${note}`);
  return lines.join("\n").trimEnd() + "\n";
}

/** A CSV field, quoted when it holds a quote, comma or newline. */
export function csvField(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function renderCsv(table: MtilTable): string {
  // Machine-readable: one value per cell; differences go in rows of their own.
  const lines = [["metric", "method", ...table.datasets, "mean"].map(csvField).join(",")];
  for (const metric of METRIC_NAMES) {
    for (const row of table.rows) {
      const cells = rowCells(table, row, metric);
      const values = cells.map((cell) => (cell.value === null ? "" : fixed(cell.value)));
      lines.push([metric, row.name, ...values].map(csvField).join(","));
      if (row.kind === "run" && table.compareWith !== null) {
        const differences = cells.map((cell) =>
          cell.difference === null ? "" : signed(cell.difference)
        );
        const label = `${row.name} - ${table.compareWith.name}`;
        lines.push([metric, label, ...differences].map(csvField).join(","));
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** Text with LaTeX's special characters escaped. */
export function latexEscape(text: string): string {
  return text.replace(/[\\&%$#_{}~^]/g, (char) => {
    if (char === "\\") return "\\textbackslash{}";
    if (char === "~") return "\\textasciitilde{}";
    if (char === "^") return "\\textasciicircum{}";
    return `\\${char}`;
  });
}

function renderLatex(table: MtilTable): string {
  const columns = headers(table);
  const width = columns.length + 1;
  const lines = [
    "% requires \\usepackage{booktabs}",
    `\\begin{tabular}{l${"c".repeat(columns.length)}}`,
    "\\toprule",
    `Method & ${columns.map(latexEscape).join(" & ")} \\\\`,
  ];
  for (const metric of METRIC_NAMES) {
    lines.push("\\midrule", `\\multicolumn{${width}}{l}{\\textit{${METRIC_TITLES[metric]}}} \\\\`);
    for (const row of table.rows) {
      const cells = rowCells(table, row, metric).map((cell) => {
        if (cell.value === null) return "--";
        if (cell.difference === null) return fixed(cell.value);
        return `${fixed(cell.value)} {\\scriptsize(${signed(cell.difference)})}`;
      });
      lines.push(`${latexEscape(row.name)} & ${cells.join(" & ")} \\\\`);
    }
  }
  lines.push("\\bottomrule", "\\end{tabular}");
  return lines.join("\n") + "\n";
}

function renderJson(table: MtilTable): string {
  const blockJson = (block: ReferenceBlock) => ({
    mean: block.mean,
    per_dataset: Object.fromEntries(
      table.datasets.filter((d) => d in block.perDataset).map((d) => [d, block.perDataset[d]]),
    ),
  });
  const rowJson = (row: TableRow) => ({
    name: row.name,
    kind: row.kind,
    transfer: blockJson(row.transfer),
    average: blockJson(row.average),
    last: blockJson(row.last),
  });
  return JSON.stringify(
    {
      datasets: table.datasets,
      rows: table.rows.map(rowJson),
      compare_with: table.compareWith?.name ?? null,
      notes: table.notes,
    },
    null,
    2,
  ) + "\n";
}

/** Renders the Transfer, Average and Last blocks of `table` in one format. */
export function renderTables(table: MtilTable, format: TableFormat): string {
  switch (format) {
    case "md":
      return renderMarkdown(table);
    case "csv":
      return renderCsv(table);
    case "latex":
      return renderLatex(table);
    case "json":
      return renderJson(table);
  }
}

/**
 * The tables of one run: its zero-shot row (when the matrix has one), its own row, and the rows of
 * a reference group, with each of the run's cells compared to the group's `against` row (or the
 * group's default) when that row holds figures.
 */
export function runTable(
  matrix: AccuracyMatrix,
  options: {
    rowName: string;
    metrics?: MtilMetrics;
    reference?: ReferenceGroup;
    against?: string;
    orderName: string | null;
  },
): MtilTable {
  const metrics = options.metrics ?? computeMetrics(matrix.values, { source: matrix.source });
  const datasets = matrix.tasks ??
    Array.from({ length: matrix.values.length }, (_, i) => `task ${i + 1}`);
  const rows: TableRow[] = [];
  if (matrix.zeroShot !== null) {
    const zeroShot = zeroShotMetrics(matrix.zeroShot);
    rows.push(runRow("Zero-shot (this run)", { metrics: zeroShot, datasets, kind: "zero-shot" }));
  }
  rows.push(runRow(options.rowName, { metrics, datasets }));
  const table: MtilTable = { datasets, rows, compareWith: null, notes: [] };
  if (options.reference !== undefined) {
    addReference(table, options.reference, options);
  }
  return table;
}

function addReference(
  table: MtilTable,
  group: ReferenceGroup,
  options: { against?: string; orderName: string | null },
): void {
  table.rows.push(...group.rows.map(referenceTableRow));
  const againstName = options.against ?? group.compareWith;
  if (againstName !== null && againstName !== undefined) {
    const row = referenceRow(group, againstName);
    if (hasFigures(row)) {
      table.compareWith = referenceTableRow(row);
    } else {
      table.notes.push(
        `reference row "${row.name}" of group "${group.name}" has no figures yet; ` +
          "fill it in the reference file to see differences",
      );
    }
  }
  if (group.order !== null && group.order !== options.orderName) {
    table.notes.push(
      `reference group "${group.name}" is Order ${group.order}, this run is ` +
        `${options.orderName === null ? "another order" : `Order ${options.orderName}`}: ` +
        "per-dataset Transfer cells are not comparable",
    );
  }
  if (group.setting !== null) {
    table.notes.push(`reference: ${group.description || group.name} (${group.setting})`);
  }
}
