/**
 * Stage `head` (per model state and dataset): the zero-shot classifier of a dataset under a model
 * state: for each class every template is encoded, L2-normalised, averaged and renormalised, on
 * the run's inference engine (the state's encoder, shared with its evaluate jobs). The text
 * encoder changes with every merge, so heads are per state. `head.npy` is [C, D].
 * Its run: run/head.ts.
 */
import { defineStage, deltaInputs } from "./common.ts";

export interface HeadArgs {
  model: string;
  deltas: string[];
  dataset: string;
  templates: string[];
  /** The prepared test split: its class names are the head's rows. */
  prepared: string;
  batchSize: number;
}

export interface HeadParams {
  dataset: string;
  templates: string[];
  batchSize: number;
}

export const headStage = defineStage<HeadArgs, HeadParams>({
  kind: "head",
  version: 1,
  declare: (args) => ({
    params: { dataset: args.dataset, templates: args.templates, batchSize: args.batchSize },
    inputs: { model: args.model, prepared: args.prepared, ...deltaInputs(args.deltas) },
  }),
  infers: true,
});
