/**
 * The quickstart, reduced (three of its five domains, fewer images, a few training steps), through
 * the CLI on the shipped pretrained tiny CLIP: what a new user's first run shows must hold.
 */
import assert from "node:assert/strict";
import { computeMetrics, METRIC_NAMES, metricsToJson } from "../src/mtil/metrics.ts";
import { parseMatrixCsv } from "../src/mtil/matrix.ts";
import { cli, withSandbox } from "./cli_sandbox.ts";
import { QUICKSTART, QUICKSTART_REDUCED_ARGS } from "./quickstart_reduced.ts";

Deno.test("a reduced quickstart on the shipped CLIP: zero-shot above chance, the paper's tables, metrics from its own matrix", async () => {
  await withSandbox(async (box) => {
    const run = await cli(box, ["run", QUICKSTART, ...QUICKSTART_REDUCED_ARGS]);
    assert.equal(run.code, 0, run.stderr);
    const folder = `${box.results}/quickstart/default`;
    const csv = await Deno.readTextFile(`${folder}/accuracy_matrix.csv`);
    const { header, rows } = parseMatrixCsv(csv, "accuracy_matrix.csv");
    assert.deepEqual(header, ["DTD", "EuroSAT", "Flowers"]);
    assert.equal(rows.length, 4); // zero-shot + one row per task
    // 10 classes per domain: chance is 10%. The pretrained model recognises every domain.
    const zeroShot = rows[0]!;
    for (const [index, accuracy] of zeroShot.entries()) {
      assert.ok(accuracy > 20, `${header![index]}: zero-shot ${accuracy}% (chance 10%)`);
    }

    // metrics.json holds Transfer / Average / Last of this run's own matrix.
    const metrics = JSON.parse(await Deno.readTextFile(`${folder}/metrics.json`));
    // Transfer has one value per dataset after the first (2), Average and Last one per dataset.
    const expected = metricsToJson(computeMetrics(rows, { zeroShotRow: true }));
    for (const name of METRIC_NAMES) {
      assert.ok(Math.abs(metrics[name].mean - expected[name].mean) < 1e-9, name);
      assert.deepEqual(metrics[name].per_dataset, expected[name].per_dataset, name);
    }
    assert.equal(metrics.transfer.per_dataset.length, 2);

    // tables.md: three blocks, each with the datasets + Mean as columns and the zero-shot row
    // above the run's, whose Last cells are the matrix's last row.
    const tables = await Deno.readTextFile(`${folder}/tables.md`);
    const blocks = tables.split(/^### /m).slice(1);
    assert.deepEqual(blocks.map((block) => block.split("\n")[0]), ["Transfer", "Average", "Last"]);
    for (const block of blocks) {
      const lines = block.split("\n").filter((line) => line.startsWith("|"));
      assert.equal(lines[0], "| Method | DTD | EuroSAT | Flowers | Mean |");
      assert.match(lines[2]!, /^\| Zero-shot \(this run\) \|/);
      assert.match(lines[3]!, /^\| quickstart \|/);
    }
    const lastRow = blocks[2]!.split("\n").find((line) => line.startsWith("| quickstart"))!;
    const cells = lastRow.split("|").slice(2, 5).map((cell) => Number(cell.trim()));
    assert.deepEqual(cells, rows[3]!.map((value) => Number(value.toFixed(1))));
  }, "rankone-quickstart-");
});
