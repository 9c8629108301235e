/**
 * Every stage kind, by name. The planner builds jobs only through the declarations (STAGES); the
 * runner executes a job by looking its kind up in STAGE_RUNNERS, which imports a kind's
 * implementation (run/<kind>.ts: TensorFlow.js, sharp, vega) when its first job runs, so that
 * planning loads none of them.
 */
import type { StageRegistry, StageRunner } from "../cache/job.ts";
import { stageRunner } from "./common.ts";
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
export const STAGE_RUNNERS: StageRegistry & Record<keyof typeof STAGES, StageRunner> = {
  model: stageRunner(modelStage, () => import("./run/model.ts")),
  data: stageRunner(dataStage, () => import("./run/data.ts")),
  prepare: stageRunner(prepareStage, () => import("./run/prepare.ts")),
  fewshot: stageRunner(fewshotStage, () => import("./run/fewshot.ts")),
  train: stageRunner(trainStage, () => import("./run/train.ts")),
  merge: stageRunner(mergeStage, () => import("./run/merge.ts")),
  orthogonalize: stageRunner(orthogonalizeStage, () => import("./run/orthogonalize.ts")),
  head: stageRunner(headStage, () => import("./run/head.ts")),
  evaluate: stageRunner(evaluateStage, () => import("./run/evaluate.ts")),
  report: stageRunner(reportStage, () => import("./run/report.ts")),
};

export type { DataSource, Stage, StageDefinition } from "./common.ts";
