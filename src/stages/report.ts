/**
 * Stage `report`: everything a run produces for a reader, from its evaluations and trainings:
 * the accuracy matrix (zero-shot row first, `accuracy_matrix.csv` + `run.json`, the contract
 * `deno task table <folder>` reads), MTIL Transfer / Average / Last (`metrics.json`), the
 * paper-style tables beside the reference figures (`tables.md`, `.csv`, `.tex`), the plots
 * (`accuracy_matrix.svg`, `expert_activation.svg`) and the training curves (`training.json`).
 * The CLI copies this artifact to `results/<pipeline>/<run>/`.
 */
import type { JsonValue } from "../cache/canonical_json.ts";
import { sha256Hex } from "../cache/digest.ts";
import { UserError } from "../errors.ts";
import type { AccuracyMatrix } from "../mtil/matrix.ts";
import { writeRunFolder } from "../mtil/matrix.ts";
import { computeMetrics, metricsToJson } from "../mtil/metrics.ts";
import { accuracyMatrixSvg, expertActivationSvg, type TaskActivations } from "../mtil/plots.ts";
import { loadReference, type ReferenceFile, referenceGroup } from "../mtil/reference.ts";
import { renderTables, runTable, type TableFormat } from "../mtil/tables.ts";
import type { Pipeline } from "../spec/types.ts";
import { input, readJson, type StageDefinition, stageJob, writeJson } from "./common.ts";
import type { AccuracyRecord } from "./evaluate.ts";

export interface ReportArgs {
  pipeline: Pipeline;
  /** Evaluate jobs by `<state index 00..T>/<dataset>`. */
  evaluations: Record<string, string>;
  /** Train jobs of tasks 1..T (none for zero-shot). */
  trains: string[];
}

const FILE_OF_FORMAT: Record<string, [TableFormat, string]> = {
  md: ["md", "tables.md"],
  csv: ["csv", "tables.csv"],
  latex: ["latex", "tables.tex"],
};

/** The reference file's digest, so editing its figures remakes the tables. */
function referenceDigest(path: string | null): string | null {
  if (path === null) return null;
  try {
    return sha256Hex(Deno.readTextFileSync(path));
  } catch {
    return "unreadable";
  }
}

function evaluationInput(key: string): string {
  return `eval-${key.replace("/", "-")}`;
}

export const reportStage: StageDefinition<ReportArgs> = {
  kind: "report",
  version: 1,
  job(id, args) {
    const { pipeline } = args;
    const params: JsonValue = {
      runName: pipeline.runName,
      method: pipeline.method.name,
      orderName: pipeline.benchmark.orderName,
      tasks: pipeline.benchmark.tasks,
      datasets: pipeline.evaluate.datasets,
      everyTask: pipeline.evaluate.everyTask,
      zeroShotRow: pipeline.evaluate.zeroShotRow,
      formats: pipeline.report.formats,
      plots: pipeline.report.plots,
      reference: pipeline.report.reference,
      referenceDigest: referenceDigest(pipeline.report.reference),
    };
    const inputs: Record<string, string> = {};
    for (const [key, jobId] of Object.entries(args.evaluations)) {
      inputs[evaluationInput(key)] = jobId;
    }
    args.trains.forEach((jobId, i) => inputs[`train-${String(i + 1).padStart(2, "0")}`] = jobId);
    return stageJob(this, id, {
      params,
      inputs,
      run: (ctx) => writeReport(ctx, args),
    });
  },
};

async function writeReport(
  ctx: Parameters<ReturnType<typeof reportStage.job>["run"]>[0],
  args: ReportArgs,
): Promise<void> {
  const { pipeline } = args;
  const tasks = pipeline.benchmark.tasks;
  const trained = args.trains.length > 0;
  const accuracy = async (t: number, dataset: string): Promise<number | null> => {
    // The zero-shot method never trains: every row is the zero-shot model's.
    const state = trained ? t : 0;
    const name = evaluationInput(`${String(state).padStart(2, "0")}/${dataset}`);
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
  const info = { method: pipeline.method.name, order: orderOf(pipeline), name: pipeline.runName };
  if (complete) {
    const matrix: AccuracyMatrix = {
      source: `${pipeline.runName} (accuracy matrix)`,
      tasks: [...tasks],
      values: rows as number[][],
      zeroShot: zeroShot as number[],
    };
    await writeRunFolder(ctx.outDir, { info, matrix });
    const metrics = computeMetrics(matrix.values, { source: matrix.source });
    await writeJson(ctx.outDir, "metrics.json", metricsToJson(metrics));
    outputs.push("accuracy_matrix.csv", "run.json", "metrics.json");

    const reference = pipeline.report.reference === null
      ? undefined
      : matchingGroup(await loadReference(pipeline.report.reference), pipeline);
    const table = runTable(
      pipeline.evaluate.zeroShotRow ? matrix : { ...matrix, zeroShot: null },
      {
        rowName: pipeline.runName,
        metrics,
        reference,
        orderName: typeof info.order === "string" ? info.order : null,
      },
    );
    for (const format of pipeline.report.formats) {
      const [tableFormat, file] = FILE_OF_FORMAT[format]!;
      await Deno.writeTextFile(`${ctx.outDir}/${file}`, renderTables(table, tableFormat));
      outputs.push(file);
    }
    if (pipeline.report.plots.includes("accuracy-matrix")) {
      const svg = await accuracyMatrixSvg(matrix, {
        title: `${pipeline.runName}: accuracy (%) after each task`,
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
  for (let t = 1; t <= args.trains.length; t++) {
    const dir = input(ctx, `train-${String(t).padStart(2, "0")}`).dir;
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
  if (pipeline.report.plots.includes("expert-activation") && hasCounts) {
    const svg = await expertActivationSvg(tasks.slice(0, activations.length), activations, {
      title: `${pipeline.runName}: expert activations per task`,
    });
    await Deno.writeTextFile(`${ctx.outDir}/expert_activation.svg`, svg);
    outputs.push("expert_activation.svg");
  }
  ctx.log(`wrote ${outputs.join(", ")}`);
}

function orderOf(pipeline: Pipeline): "I" | "II" | string[] {
  const name = pipeline.benchmark.orderName;
  const tasks = pipeline.benchmark.tasks;
  return (name === "I" || name === "II") && tasks.length === 11 ? name : [...tasks];
}

/**
 * The reference group published for this run's setting (5-shot / full-shot) and order, else the
 * file's default group: a full-shot Order I run is compared with ZSCL's full-shot figures, the
 * paper's setting with the paper's Table 1 slot.
 */
function matchingGroup(file: ReferenceFile, pipeline: Pipeline) {
  const shots = pipeline.benchmark.shots;
  const setting = shots === 0 ? "full-shot" : `${shots}-shot`;
  const found = file.groups.find((group) =>
    group.setting === setting && group.order === pipeline.benchmark.orderName
  );
  return found ?? referenceGroup(file);
}
