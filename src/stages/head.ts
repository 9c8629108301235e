/**
 * Stage `head` (per model state and dataset): the zero-shot classifier of a dataset under a model
 * state: for each class every template is encoded, L2-normalised, averaged and renormalised, on
 * the run's inference engine (the state's encoder, shared with its evaluate jobs). The text
 * encoder changes with every merge, so heads are per state. `head.npy` is [C, D].
 */
import { describeEncoder } from "../clip/encoder.ts";
import { writeNpy } from "../io/npy.ts";
import { zeroShotHead } from "../mtil/heads.ts";
import { PreparedSplitReader } from "../mtil/image_set.ts";
import {
  defineStage,
  deltaInputs,
  input,
  modelDescriptor,
  stateEncoder,
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
  infers: true,
  async run(ctx, params) {
    const descriptor = await modelDescriptor(ctx);
    const tokenizer = await tokenizerFor(ctx, descriptor);
    const encoder = await stateEncoder(ctx);
    ctx.log(`engine: ${describeEncoder(encoder)}`);
    // The split's index only: its class names are the head's rows (no image is read).
    const split = await PreparedSplitReader.open(`${input(ctx, "prepared").dir}/images`);
    const classNames = split.classNames;
    split.close();
    const head = await zeroShotHead(encoder, tokenizer, {
      classNames,
      templates: params.templates,
      batchSize: params.batchSize,
      signal: ctx.signal,
    });
    await writeNpy(`${ctx.outDir}/head.npy`, {
      dtype: "float32",
      shape: [classNames.length, encoder.arch.embedDim],
      data: head,
    });
    ctx.log(
      `${params.dataset}: ${classNames.length} classes x ${params.templates.length} templates`,
    );
  },
});
