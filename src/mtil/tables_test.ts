import assert from "node:assert/strict";
import { computeMetrics } from "./metrics.ts";
import { type MtilTable, referenceTableRow, renderTables, runRow } from "./tables.ts";

// Order-free 3-task table: the run is in the order MNIST, Aircraft, StanfordCars.
const datasets = ["MNIST", "Aircraft", "StanfordCars"];
const run = runRow("ours", {
  datasets,
  metrics: computeMetrics([
    [90, 40, 30],
    [80, 95, 35],
    [70, 85, 99],
  ]),
});
const reference = referenceTableRow({
  name: "published",
  source: null,
  transfer: { mean: 30, perDataset: { Aircraft: 38.8 } },
  average: { mean: null, perDataset: {} },
  last: { mean: 90, perDataset: { MNIST: 71.5, StanfordCars: 99 } },
});

function table(compare: boolean): MtilTable {
  return { datasets, rows: [run, reference], compareWith: compare ? reference : null, notes: [] };
}

Deno.test("Markdown tables follow the run's task order and show ours minus the reference", () => {
  const md = renderTables(table(true), "md");
  assert.match(md, /\| Method \| MNIST \| Aircraft \| Cars \| Mean \|/);
  // Transfer: MNIST (first task) has none; Aircraft 40 vs 38.8; mean 36.25 vs 30.
  assert.match(md, /\| ours \| – \| 40\.0 \(\+1\.2\) \| 32\.5 \| 36\.3 \(\+6\.3\) \|/);
  // Last: 70 vs 71.5 -> -1.5; 99 vs 99 -> +0.0.
  assert.match(md, /\| ours \| 70\.0 \(-1\.5\) \| 85\.0 \| 99\.0 \(\+0\.0\) \| 84\.7 \(-5\.3\) \|/);
  assert.match(md, /\| published \| – \| – \| – \| – \|/); // its empty Average row
  assert.equal(count(md, "### "), 3);
});

Deno.test("CSV keeps one value per cell and puts differences in rows of their own", () => {
  const lines = renderTables(table(true), "csv").trim().split("\n");
  assert.equal(lines[0], "metric,method,MNIST,Aircraft,StanfordCars,mean");
  assert.ok(lines.includes("transfer,ours,,40.0,32.5,36.3"));
  assert.ok(lines.includes("transfer,ours - published,,+1.2,,+6.3"));
  assert.ok(lines.includes("last,published,71.5,,99.0,90.0"));
  assert.equal(lines.length, 1 + 3 * 3); // header + (ours, difference, published) per metric
});

Deno.test("LaTeX uses booktabs rules, one block per metric, escaped names", () => {
  const latex = renderTables(
    { ...table(false), rows: [{ ...run, name: "ours_v2 & co" }, reference] },
    "latex",
  );
  assert.equal(count(latex, "\\toprule"), 1);
  assert.equal(count(latex, "\\midrule"), 3);
  assert.equal(count(latex, "\\bottomrule"), 1);
  assert.match(latex, /\\begin\{tabular\}\{lcccc\}/);
  assert.match(latex, /\\multicolumn\{5\}\{l\}\{\\textit\{Average\}\}/);
  assert.match(latex, /ours\\_v2 \\& co & -- & 40\.0 & 32\.5 & 36\.3 \\\\/);
  const compared = renderTables(table(true), "latex");
  assert.match(compared, /40\.0 \{\\scriptsize\(\+1\.2\)\}/);
});

Deno.test("JSON tables hold unrounded cells keyed by dataset in task order", () => {
  const json = JSON.parse(renderTables(table(true), "json"));
  assert.deepEqual(json.datasets, datasets);
  assert.equal(json.compare_with, "published");
  assert.deepEqual(Object.keys(json.rows[0].average.per_dataset), datasets);
  assert.equal(json.rows[0].transfer.mean, 36.25);
  assert.equal(json.rows[1].average.mean, null);
});

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
