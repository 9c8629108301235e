/**
 * Stage `report`: everything a run produces for a reader, from its evaluations and trainings:
 * the accuracy matrix (zero-shot row first, `accuracy_matrix.csv` + `run.json`, the contract
 * `deno task table <folder>` reads), MTIL Transfer / Average / Last (`metrics.json`), the
 * paper-style tables beside the reference figures (`tables.md`, `.csv`, `.tex`), the plots
 * (`accuracy_matrix.svg`, `expert_activation.svg`) and the training curves (`training.json`).
 * The CLI copies this artifact to `results/<pipeline>/<run>/`.
 * Its run: run/report.ts.
 */
import type { SourceSpec } from "../cache/job.ts";
import type { PlotName, ReportFormat } from "../spec/types.ts";
import { defineStage } from "./common.ts";

/** What the report reads besides its inputs (the evaluations and trainings). */
export interface ReportParams {
  runName: string;
  method: string;
  orderName: string;
  tasks: string[];
  /** Picks the reference group to compare with (5-shot, full-shot). */
  shots: number;
  zeroShotRow: boolean;
  formats: ReportFormat[];
  plots: PlotName[];
  /** The reference-figures file (a source: editing its figures remakes the tables), or null. */
  reference: string | null;
}

/** The run's settings the report shows, and the jobs it reads. */
export interface ReportArgs extends ReportParams {
  /** Evaluate jobs by `<state index 00..T>/<dataset>`. */
  evaluations: Record<string, string>;
  /** Train jobs of tasks 1..T (none for zero-shot). */
  trains: string[];
}

export function evaluationInput(state: number, dataset: string): string {
  return `eval-${pad(state)}-${dataset}`;
}

export function trainInput(t: number): string {
  return `train-${pad(t)}`;
}

function pad(index: number): string {
  return String(index).padStart(2, "0");
}

export const reportStage = defineStage<ReportArgs, ReportParams>({
  kind: "report",
  // 2: the reference file is a source; shots picks the reference group.
  version: 2,
  declare({ evaluations, trains, ...settings }) {
    const inputs: Record<string, string> = {};
    for (const [key, jobId] of Object.entries(evaluations)) {
      const [state, dataset] = key.split("/");
      inputs[evaluationInput(Number(state), dataset!)] = jobId;
    }
    trains.forEach((jobId, i) => inputs[trainInput(i + 1)] = jobId);
    const params: ReportParams = {
      runName: settings.runName,
      method: settings.method,
      orderName: settings.orderName,
      tasks: [...settings.tasks],
      shots: settings.shots,
      zeroShotRow: settings.zeroShotRow,
      formats: [...settings.formats],
      plots: [...settings.plots],
      reference: settings.reference,
    };
    return { params, inputs };
  },
  sources(params): Record<string, SourceSpec> {
    return params.reference === null ? {} : { reference: { path: params.reference, depth: "top" } };
  },
});
