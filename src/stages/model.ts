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
 * Its run: run/model.ts.
 */
import type { SourceSpec } from "../cache/job.ts";
import { sha256Hex } from "../cache/digest.ts";
import { datasetInfo, MTIL_DATASETS } from "../mtil/benchmark.ts";
import type { ModelSpec, SyntheticModelPreset } from "../spec/types.ts";
import { defineStage } from "./common.ts";

/** Most merges the generated tokenizer learns (vocabulary = 514 byte symbols + merges). */
const SYNTHETIC_MERGES = 4000;

/**
 * The texts the generated tokenizer learns its merges from: every MTIL prompt template and every
 * class name the benchmark fixes, so prompts take a few tokens and fit a tiny context.
 */
export function syntheticTokenizerCorpus(): string[] {
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
});
