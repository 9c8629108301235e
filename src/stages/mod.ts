/** Every stage kind, by name. The planner builds jobs only through these definitions. */
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

export type { DataSource, StageDefinition } from "./common.ts";
export { releaseModelState } from "./common.ts";
