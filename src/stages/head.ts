/**
 * Stage `head` (per model state and dataset): the zero-shot classifier of a dataset under a model
 * state: for each class every template is encoded, L2-normalised, averaged and renormalised.
 * The text encoder changes with every merge, so heads are per state. `head.npy` is [C, D].
 */
import { writeNpy } from "../io/npy.ts";
import { zeroShotHead } from "../mtil/heads.ts";
import { readImageSet } from "../mtil/prepare.ts";
import {
  deltaInputs,
  input,
  modelDescriptor,
  modelState,
  type StageDefinition,
  stageJob,
  tokenizerFor,
} from "./common.ts";

export interface HeadArgs {
  model: string;
  deltas: string[];
  dataset: string;
  templates: string[];
  /** The prepared test split: its class names are the head's rows. */
  prepared: string;
  batchSize: number;
}

export const headStage: StageDefinition<HeadArgs> = {
  kind: "head",
  version: 1,
  job(id, args) {
    return stageJob(this, id, {
      params: { dataset: args.dataset, templates: args.templates, batchSize: args.batchSize },
      inputs: { model: args.model, prepared: args.prepared, ...deltaInputs(args.deltas) },
      async run(ctx) {
        const descriptor = await modelDescriptor(ctx);
        const tokenizer = await tokenizerFor(descriptor);
        const model = await modelState(ctx);
        const { set } = await readImageSet(`${input(ctx, "prepared").dir}/images`);
        const head = await zeroShotHead(model, tokenizer, {
          classNames: set.classNames,
          templates: args.templates,
          batchSize: args.batchSize,
        });
        const dim = model.arch.embedDim;
        await writeNpy(`${ctx.outDir}/head.npy`, {
          dtype: "float32",
          shape: [set.classNames.length, dim],
          data: head,
        });
        ctx.log(
          `${args.dataset}: ${set.classNames.length} classes x ${args.templates.length} templates`,
        );
      },
    });
  },
};
