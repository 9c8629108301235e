/**
 * Stage `model`'s run (declared in ../model.ts): checks a weights folder against its tokenizer, or
 * generates the tiny random CLIP and its tokenizer, and writes `model.json` and `arch.json`.
 */
import type { JobContext } from "../../cache/job.ts";
import { loadArchPreset } from "../../clip/presets.ts";
import { writeSyntheticClip } from "../../clip/synthetic.ts";
import { learnMerges, writeByteLevelTokenizer } from "../../clip/bpe_train.ts";
import { loadTokenizer } from "../../clip/tokenizer_files.ts";
import { inspectWeights } from "../../clip/weights_header.ts";
import { UserError } from "../../errors.ts";
import { type ModelParams, syntheticTokenizerCorpus } from "../model.ts";
import { type ModelDescriptor, writeJson } from "./context.ts";

export async function run(ctx: JobContext, params: ModelParams): Promise<void> {
  const tokenizerDigest = ctx.sources.tokenizer?.digest ?? ctx.sources.weights?.digest ?? null;
  if (params.source === "synthetic") {
    ctx.log(`generating a random ${params.preset} CLIP (seed ${params.seed})`);
    const tokenizer = params.tokenizer === null
      ? await writeByteLevelTokenizer(`${ctx.outDir}/tokenizer`, {
        merges: learnMerges(syntheticTokenizerCorpus(), { maxMerges: params.merges }),
      })
      : await loadTokenizer(params.tokenizer);
    const arch = await writeSyntheticClip(
      `${ctx.outDir}/weights`,
      loadArchPreset(params.preset),
      {
        layout: "hf",
        seed: params.seed,
        vocabSize: tokenizer.vocabSize,
      },
    );
    await writeJson(ctx.outDir, "arch.json", arch);
    const descriptor: ModelDescriptor = {
      weights: "weights",
      tokenizer: params.tokenizer ?? "tokenizer",
      weightsDigest: null,
      tokenizerDigest,
      imageSize: arch.vision.imageSize,
      contextLength: arch.text.contextLength,
    };
    await writeJson(ctx.outDir, "model.json", descriptor);
    return;
  }
  const info = await inspectWeights(params.weights);
  const tokenizer = await loadTokenizer(params.tokenizer);
  if (tokenizer.vocabSize > info.arch.text.vocabSize) {
    throw new UserError(
      `Cannot use tokenizer ${params.tokenizer} with ${info.file}: it has ${tokenizer.vocabSize} ids, the model's token embedding ${info.arch.text.vocabSize}`,
    );
  }
  const weightsDigest = ctx.sources.weights?.digest ?? null;
  ctx.log(
    `${info.file}: ${info.layout} layout, vision width ${info.arch.vision.width}, ` +
      `content ${weightsDigest?.slice(0, 12)}`,
  );
  await writeJson(ctx.outDir, "arch.json", info.arch);
  const descriptor: ModelDescriptor = {
    weights: params.weights,
    tokenizer: params.tokenizer,
    weightsDigest,
    tokenizerDigest,
    imageSize: info.arch.vision.imageSize,
    contextLength: info.arch.text.contextLength,
  };
  await writeJson(ctx.outDir, "model.json", descriptor);
}
