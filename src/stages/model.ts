/**
 * Stage `model` (load CLIP): checks a weights folder (layout, every tensor's presence and shape,
 * the tokenizer) or generates the offline quickstart's tiny random CLIP, and records what later
 * stages load: `model.json` (where the weights and tokenizer are, image size, context length)
 * and `arch.json`.
 *
 * User weights are not copied into the cache (ViT-B/16 is 600 MB): the job's params carry a
 * fingerprint of the folder (each file's name, size and modification time), so replacing a file
 * reruns everything downstream, while planning never reads 600 MB.
 */
import type { JsonValue } from "../cache/canonical_json.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { writeSyntheticClip } from "../clip/synthetic.ts";
import { learnMerges, loadTokenizer, writeByteLevelTokenizer } from "../clip/tokenizer.ts";
import { sha256Hex } from "../cache/digest.ts";
import { datasetInfo, MTIL_DATASETS } from "../mtil/benchmark.ts";
import { inspectWeights } from "../clip/weights.ts";
import { UserError } from "../errors.ts";
import type { ModelSpec } from "../spec/types.ts";
import { type StageDefinition, stageJob, writeJson } from "./common.ts";

/** Name, size and mtime of each file in `dir`, or a marker when it cannot be read (yet). */
export function folderFingerprint(dir: string): JsonValue {
  try {
    const files: JsonValue[] = [];
    for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (!entry.isFile) continue;
      const info = Deno.statSync(`${dir}/${entry.name}`);
      files.push([entry.name, info.size, info.mtime?.getTime() ?? 0]);
    }
    return files;
  } catch {
    return "unreadable";
  }
}

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

export const modelStage: StageDefinition<{ model: ModelSpec }> = {
  kind: "model",
  version: 1,
  job(id, { model }) {
    const params: JsonValue = model.source === "synthetic"
      ? {
        source: "synthetic",
        preset: model.preset,
        seed: model.seed,
        tokenizer: model.tokenizer,
        corpus: model.tokenizer === null ? sha256Hex(syntheticTokenizerCorpus().join("\n")) : null,
        merges: SYNTHETIC_MERGES,
      }
      : {
        source: "weights",
        weights: model.weights,
        tokenizer: model.tokenizer,
        fingerprint: folderFingerprint(model.weights),
        tokenizerFingerprint: model.tokenizer === model.weights
          ? "same"
          : folderFingerprint(model.tokenizer),
      };
    return stageJob(this, id, {
      params,
      inputs: {},
      async run(ctx) {
        if (model.source === "synthetic") {
          ctx.log(`generating a random ${model.preset} CLIP (seed ${model.seed})`);
          const tokenizer = model.tokenizer === null
            ? await writeByteLevelTokenizer(`${ctx.outDir}/tokenizer`, {
              merges: learnMerges(syntheticTokenizerCorpus(), { maxMerges: SYNTHETIC_MERGES }),
            })
            : await loadTokenizer(model.tokenizer);
          const arch = await writeSyntheticClip(
            `${ctx.outDir}/weights`,
            loadArchPreset(model.preset),
            {
              layout: "hf",
              seed: model.seed,
              vocabSize: tokenizer.vocabSize,
            },
          );
          await writeJson(ctx.outDir, "arch.json", arch);
          await writeJson(ctx.outDir, "model.json", {
            weights: "weights",
            tokenizer: model.tokenizer === null ? "tokenizer" : model.tokenizer,
            imageSize: arch.vision.imageSize,
            contextLength: arch.text.contextLength,
          });
          return;
        }
        const info = await inspectWeights(model.weights);
        const tokenizer = await loadTokenizer(model.tokenizer);
        if (tokenizer.vocabSize > info.arch.text.vocabSize) {
          throw new UserError(
            `Cannot use tokenizer ${model.tokenizer} with ${info.file}: it has ${tokenizer.vocabSize} ids, the model's token embedding ${info.arch.text.vocabSize}`,
          );
        }
        ctx.log(`${info.file}: ${info.layout} layout, vision width ${info.arch.vision.width}`);
        await writeJson(ctx.outDir, "arch.json", info.arch);
        await writeJson(ctx.outDir, "model.json", {
          weights: model.weights,
          tokenizer: model.tokenizer,
          imageSize: info.arch.vision.imageSize,
          contextLength: info.arch.text.contextLength,
        });
      },
    });
  },
};
