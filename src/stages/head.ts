/**
 * Stage `head` (per model state and dataset): the zero-shot classifier of a dataset under a model
 * state: for each class every template is encoded, L2-normalised, averaged and renormalised.
 * The text encoder changes with every merge, so heads are per state. `head.npy` is [C, D].
 */
import { writeNpy } from "../io/npy.ts";
import { zeroShotHead } from "../mtil/heads.ts";
import { readImageSet } from "../mtil/prepare.ts";
import {
  defineStage,
  deltaInputs,
  input,
  modelDescriptor,
  modelState,
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
  async run(ctx, params) {
    const descriptor = await modelDescriptor(ctx);
    const tokenizer = await tokenizerFor(descriptor);
    const model = await modelState(ctx);
    const { set } = await readImageSet(`${input(ctx, "prepared").dir}/images`);
    const head = await zeroShotHead(model, tokenizer, {
      classNames: set.classNames,
      templates: params.templates,
      batchSize: params.batchSize,
      signal: ctx.signal,
    });
    const dim = model.arch.embedDim;
    await writeNpy(`${ctx.outDir}/head.npy`, {
      dtype: "float32",
      shape: [set.classNames.length, dim],
      data: head,
    });
    ctx.log(
      `${params.dataset}: ${set.classNames.length} classes x ${params.templates.length} templates`,
    );
  },
});
