/**
 * Every stage kind, by name. The planner builds jobs only through these definitions; the runner
 * executes a job by looking its kind up in STAGE_RUNNERS.
 */
import type { StageRegistry } from "../cache/job.ts";
import { dataStage } from "./data.ts";
import { evaluateStage } from "./evaluate.ts";
import { fewshotStage } from "./fewshot.ts";
import { headStage } from "./head.ts";
import { mergeStage } from "./merge.ts";
import { modelStage } from "./model.ts";
import { orthogonalizeStage } from "./orthogonalize.ts";
import { prepareStage } from "./prepare.ts";
import { reportStage } from "./report.ts";
import { trainStage } from "./train.ts";

export const STAGES = {
  model: modelStage,
  data: dataStage,
  prepare: prepareStage,
  fewshot: fewshotStage,
  train: trainStage,
  merge: mergeStage,
  orthogonalize: orthogonalizeStage,
  head: headStage,
  evaluate: evaluateStage,
  report: reportStage,
} as const;

/** The runner side of every stage, by kind. */
export const STAGE_RUNNERS: StageRegistry = Object.fromEntries(
  Object.values(STAGES).map((stage) => [stage.kind, stage.runner]),
);

export type { DataSource, Stage, StageDefinition } from "./common.ts";
