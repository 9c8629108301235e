/**
 * Stage `report`'s run (declared in ../report.ts): the run folder (matrix, metrics, tables, plots,
 * training curves) from the evaluations and trainings.
 */
import type { JobContext } from "../../cache/job.ts";
import { UserError } from "../../errors.ts";
import type { AccuracyMatrix } from "../../mtil/matrix.ts";
import { writeRunFolder } from "../../mtil/matrix.ts";
import { computeMetrics, metricsToJson } from "../../mtil/metrics.ts";
import { accuracyMatrixSvg, expertActivationSvg, type TaskActivations } from "../../mtil/plots.ts";
import { loadReference, settingGroup } from "../../mtil/reference.ts";
import { renderTables, runTable, type TableFormat } from "../../mtil/tables.ts";
import { evaluationInput, type ReportParams, trainInput } from "../report.ts";
import type { AccuracyRecord } from "./evaluate.ts";
import { input, readJson, writeJson } from "./context.ts";

const FILE_OF_FORMAT: Record<string, [TableFormat, string]> = {
  md: ["md", "tables.md"],
  csv: ["csv", "tables.csv"],
  latex: ["latex", "tables.tex"],
};

export async function run(ctx: JobContext, params: ReportParams): Promise<void> {
  const tasks = params.tasks;
  const trainCount = Object.keys(ctx.inputs).filter((name) => name.startsWith("train-")).length;
  const trained = trainCount > 0;
  const accuracy = async (t: number, dataset: string): Promise<number | null> => {
    // The zero-shot method never trains: every row is the zero-shot model's.
    const name = evaluationInput(trained ? t : 0, dataset);
    if (ctx.inputs[name] === undefined) return null;
    return (await readJson<AccuracyRecord>(input(ctx, name).dir, "accuracy.json")).top1;
  };
  const row = async (t: number) => {
    const values: (number | null)[] = [];
    for (const dataset of tasks) values.push(await accuracy(t, dataset));
    return values;
  };

  const zeroShot = await row(0);
  const rows: (number | null)[][] = [];
  for (let t = 1; t <= tasks.length; t++) rows.push(await row(t));
  const complete = rows.every((values) => values.every((v) => v !== null)) &&
    zeroShot.every((v) => v !== null);

  const outputs: string[] = [];
  const info = { method: params.method, order: orderOf(params), name: params.runName };
  if (complete) {
    const matrix: AccuracyMatrix = {
      source: `${params.runName} (accuracy matrix)`,
      tasks: [...tasks],
      values: rows as number[][],
      zeroShot: zeroShot as number[],
    };
    await writeRunFolder(ctx.outDir, { info, matrix });
    const metrics = computeMetrics(matrix.values, { source: matrix.source });
    await writeJson(ctx.outDir, "metrics.json", metricsToJson(metrics));
    outputs.push("accuracy_matrix.csv", "run.json", "metrics.json");

    const reference = params.reference === null
      ? undefined
      : settingGroup(await loadReference(params.reference), params);
    const table = runTable(
      params.zeroShotRow ? matrix : { ...matrix, zeroShot: null },
      {
        rowName: params.runName,
        metrics,
        reference,
        orderName: typeof info.order === "string" ? info.order : null,
      },
    );
    for (const format of params.formats) {
      const [tableFormat, file] = FILE_OF_FORMAT[format]!;
      await Deno.writeTextFile(`${ctx.outDir}/${file}`, renderTables(table, tableFormat));
      outputs.push(file);
    }
    if (params.plots.includes("accuracy-matrix")) {
      const svg = await accuracyMatrixSvg(matrix, {
        title: `${params.runName}: accuracy (%) after each task`,
      });
      await Deno.writeTextFile(`${ctx.outDir}/accuracy_matrix.svg`, svg);
      outputs.push("accuracy_matrix.svg");
    }
  } else {
    // evaluate.every_task: false: only the final model (and the zero-shot one) were evaluated,
    // so only Last is defined.
    const last = rows[rows.length - 1] ?? [];
    if (last.some((v) => v === null)) {
      throw new UserError(`${ctx.id}: the final model was not evaluated on every task`);
    }
    const values = last as number[];
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    await writeJson(ctx.outDir, "metrics.json", {
      last: { mean, per_dataset: values },
      zero_shot: zeroShot,
    });
    await writeJson(ctx.outDir, "run.json", info);
    outputs.push("metrics.json", "run.json");
  }

  const training: Record<string, unknown> = {};
  const activations: TaskActivations[] = [];
  for (let t = 1; t <= trainCount; t++) {
    const dir = input(ctx, trainInput(t)).dir;
    const losses = await readJson<{ loss: number[]; ago: number[] }>(dir, "losses.json");
    training[tasks[t - 1]!] = {
      steps: losses.loss.length,
      firstLoss: losses.loss[0] ?? null,
      lastLoss: losses.loss[losses.loss.length - 1] ?? null,
      loss: losses.loss,
      ago: losses.ago,
    };
    activations.push(await readJson<TaskActivations>(dir, "activations.json"));
  }
  if (trained) {
    await writeJson(ctx.outDir, "training.json", training);
    outputs.push("training.json");
  }
  const hasCounts = activations.some((perModule) => Object.keys(perModule).length > 0);
  if (params.plots.includes("expert-activation") && hasCounts) {
    const svg = await expertActivationSvg(tasks.slice(0, activations.length), activations, {
      title: `${params.runName}: expert activations per task`,
    });
    await Deno.writeTextFile(`${ctx.outDir}/expert_activation.svg`, svg);
    outputs.push("expert_activation.svg");
  }
  ctx.log(`wrote ${outputs.join(", ")}`);
}

function orderOf(params: ReportParams): "I" | "II" | string[] {
  const name = params.orderName;
  const tasks = params.tasks;
  return (name === "I" || name === "II") && tasks.length === 11 ? name : [...tasks];
}
