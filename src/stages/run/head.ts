/**
 * Stage `head`'s run (declared in ../head.ts): a dataset's zero-shot head on the state's encoder.
 */
import type { JobContext } from "../../cache/job.ts";
import { describeEncoder } from "../../clip/encoder.ts";
import { writeNpy } from "../../io/npy.ts";
import { zeroShotHead } from "../../mtil/heads.ts";
import { PreparedSplitReader } from "../../mtil/image_set.ts";
import type { HeadParams } from "../head.ts";
import { input, modelDescriptor, stateEncoder, tokenizerFor } from "./context.ts";

export async function run(ctx: JobContext, params: HeadParams): Promise<void> {
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
}
