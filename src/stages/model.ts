/**
 * Stage `model` (load CLIP): checks a weights folder (layout, every tensor's presence and shape,
 * the tokenizer) or generates the offline quickstart's tiny random CLIP, and records what later
 * stages load: `model.json` (where the weights and tokenizer are, their content digests, image
 * size, context length) and `arch.json`.
 *
 * User weights are not copied into the cache (ViT-B/16 is 600 MB): the weights folder (and a
 * separate tokenizer folder) are the job's sources, so their content digest is in its key, and
 * `model.json` records that digest, so the artifact's digest, and with it every downstream key,
 * changes when the weights do. Hashing 600 MB happens once; later plans only stat the files
 * (the cache's state table).
 */
import type { SourceSpec } from "../cache/job.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { writeSyntheticClip } from "../clip/synthetic.ts";
import { learnMerges, writeByteLevelTokenizer } from "../clip/bpe_train.ts";
import { loadTokenizer } from "../clip/tokenizer_files.ts";
import { sha256Hex } from "../cache/digest.ts";
import { datasetInfo, MTIL_DATASETS } from "../mtil/benchmark.ts";
import { inspectWeights } from "../clip/weights_header.ts";
import { UserError } from "../errors.ts";
import type { ModelSpec, SyntheticModelPreset } from "../spec/types.ts";
import { defineStage, type ModelDescriptor, writeJson } from "./common.ts";

/** Most merges the generated tokenizer learns (vocabulary = 514 byte symbols + merges). */
const SYNTHETIC_MERGES = 4000;

/**
 * The texts the generated tokenizer learns its merges from: every MTIL prompt template and every
 * class name the benchmark fixes, so prompts take a few tokens and fit a tiny context.
 */
function syntheticTokenizerCorpus(): string[] {
  return MTIL_DATASETS.flatMap((name) => {
    const info = datasetInfo(name);
    return [...info.templates, ...(info.classnames ?? [])];
  });
}

export type ModelParams =
  | {
    source: "synthetic";
    preset: SyntheticModelPreset;
    seed: number;
    /** A user's tokenizer folder, or null for one learned from the corpus. */
    tokenizer: string | null;
    /** sha256 of the learning corpus (null with a user's tokenizer). */
    corpus: string | null;
    merges: number;
  }
  | { source: "weights"; weights: string; tokenizer: string };

export const modelStage = defineStage<{ model: ModelSpec }, ModelParams>({
  kind: "model",
  // 2: model.json records the weights' and tokenizer's content digests.
  version: 2,
  declare({ model }) {
    const params: ModelParams = model.source === "synthetic"
      ? {
        source: "synthetic",
        preset: model.preset,
        seed: model.seed,
        tokenizer: model.tokenizer,
        corpus: model.tokenizer === null ? sha256Hex(syntheticTokenizerCorpus().join("\n")) : null,
        merges: SYNTHETIC_MERGES,
      }
      : { source: "weights", weights: model.weights, tokenizer: model.tokenizer };
    return { params, inputs: {} };
  },
  sources(params) {
    // Only the files directly in each folder: the loaders read nothing below them.
    const sources: Record<string, SourceSpec> = {};
    if (params.source === "weights") sources.weights = { path: params.weights, depth: "top" };
    const ownTokenizer = params.source === "weights" && params.tokenizer === params.weights;
    if (params.tokenizer !== null && !ownTokenizer) {
      sources.tokenizer = { path: params.tokenizer, depth: "top" };
    }
    return sources;
  },
  async run(ctx, params) {
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
  },
});
