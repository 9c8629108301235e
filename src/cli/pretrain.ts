/**
 * `deno task pretrain [--out DIR] [--steps N] [--first N] [--backend B]`: pretrains the
 * quickstart's tiny CLIP contrastively on the concept pool (src/mtil/concepts/pool.ts) and writes
 * it where the quickstart reads it (`models/clip-tiny-concepts/`): the weights in both key
 * layouts (`hf/`, `openai/`), the tokenizer (`tokenizer/`, merges learned from the pool's texts)
 * and `pretrain.json` (the recipe, the backend, every step's loss and each file's sha256).
 *
 * Everything follows from the recipe: the initial weights from its seed, each step's batch from
 * the seed and the step, so on the same backend the command rewrites the shipped files byte for
 * byte. `--first N` runs only the recipe's first N steps (the schedule unchanged) and writes no
 * weights: a check that this machine reproduces the recorded losses.
 */
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../clip/backend.ts";
import { type BackendName, isBackendName } from "../clip/settings.ts";
import { buildModel, canonicalParameters, disposeModel } from "../clip/model.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { randomParameters } from "../clip/synthetic.ts";
import { learnMerges, writeByteLevelTokenizer } from "../clip/bpe_train.ts";
import { writeClipWeights } from "../clip/weights.ts";
import { sha256Hex } from "../cache/digest.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { normalizeUint8 } from "../io/image.ts";
import { SeededRng } from "../io/rng.ts";
import { pretrainClip } from "../method/pretrain.ts";
import { commandOptions } from "./args.ts";
import { poolCorpus, pretrainingPair } from "../mtil/concepts/pool.ts";

/** The shipped model's recipe: `pretrain.json` records it beside the weights it produced. */
export interface PretrainRecipe {
  arch: string;
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  betas: [number, number];
  /** Most BPE merges learned from the pool's texts. */
  merges: number;
}

export const DEFAULT_RECIPE: PretrainRecipe = {
  arch: "clip-tiny",
  seed: 0,
  steps: 800,
  batchSize: 128,
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 100,
  weightDecay: 0.1,
  betas: [0.9, 0.98],
  merges: 4000,
};

/** The backend the shipped weights were made on (byte-for-byte reproduction holds per backend). */
export const PRETRAIN_BACKEND = "wasm";

export const DEFAULT_OUT = "models/clip-tiny-concepts";

const USAGE = "usage: deno task pretrain [--out DIR] [--steps N] [--first N] [--backend " +
  `${PRETRAIN_BACKEND}] [--quiet]\n` +
  `  --out      where to write hf/, openai/, tokenizer/ and pretrain.json (${DEFAULT_OUT})\n` +
  `  --steps    length of the schedule (${DEFAULT_RECIPE.steps})\n` +
  "  --first    run only the first N steps, print their losses as JSON, write nothing\n" +
  `  --backend  TensorFlow.js backend (${PRETRAIN_BACKEND}: the shipped weights' backend)`;

/** The pretraining batch of step `step`: a pure function of the recipe's seed and the step. */
export function pretrainingBatch(
  recipe: PretrainRecipe,
  step: number,
  imageSize: number,
): { pixels: Float32Array; captions: string[] } {
  const rng = new SeededRng((recipe.seed * 1000003 + step * 7919 + 1) >>> 0);
  const plane = 3 * imageSize * imageSize;
  const pixels = new Float32Array(recipe.batchSize * plane);
  const captions: string[] = [];
  for (let i = 0; i < recipe.batchSize; i++) {
    const pair = pretrainingPair(rng, imageSize);
    pixels.set(normalizeUint8(pair.pixels, imageSize), i * plane);
    captions.push(pair.caption);
  }
  return { pixels, captions };
}

export interface PretrainRun {
  losses: number[];
  temperature: number;
}

/**
 * Runs `recipe` (its first `first` steps when given) and, unless `first` is set, writes the model
 * to `out` through a temporary folder renamed into place, so a failure leaves the old files.
 */
export async function runPretraining(
  recipe: PretrainRecipe,
  options: { out: string; first?: number; onProgress?: (step: number, loss: number) => void },
): Promise<PretrainRun> {
  const staging = `${options.out}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const tokenizer = await writeByteLevelTokenizer(`${staging}/tokenizer`, {
      merges: learnMerges(poolCorpus(), { maxMerges: recipe.merges }),
    });
    const preset = loadArchPreset(recipe.arch);
    const arch = { ...preset, text: { ...preset.text, vocabSize: tokenizer.vocabSize } };
    const initial = new Map<string, tf.Tensor>();
    for (const [name, { shape, data }] of randomParameters(arch, recipe.seed)) {
      initial.set(name, tf.tensor(data, shape));
    }
    const model = buildModel(arch, initial);
    const contextLength = arch.text.contextLength;
    let result;
    try {
      result = await pretrainClip(model, {
        // The schedule is the full recipe's even when only its first steps run.
        steps: recipe.steps,
        stopAfter: options.first,
        lr: recipe.lr,
        minLr: recipe.minLr,
        warmup: recipe.warmup,
        weightDecay: recipe.weightDecay,
        betas: recipe.betas,
        batch: (step) => pretrainingBatch(recipe, step, arch.vision.imageSize),
        tokenize: (texts) => tokenizer.tokenize([...texts], { contextLength }),
        onProgress: (step, _total, loss) => options.onProgress?.(step, loss),
      });
      if (options.first === undefined) {
        const params = await canonicalParameters(model);
        await writeClipWeights(`${staging}/hf`, arch, params, { layout: "hf" });
        await writeClipWeights(`${staging}/openai`, arch, params, { layout: "openai" });
      }
    } finally {
      disposeModel(model);
    }
    if (options.first === undefined) {
      await writeRecord(staging, recipe, result);
      await replaceFolder(staging, options.out);
    }
    return result;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** `pretrain.json`: the recipe, the backend, the loss curve and each written file's sha256. */
async function writeRecord(dir: string, recipe: PretrainRecipe, run: PretrainRun): Promise<void> {
  const files: Record<string, string> = {};
  for (const folder of ["hf", "openai", "tokenizer"]) {
    const names = [...Deno.readDirSync(`${dir}/${folder}`)].map((entry) => entry.name).sort();
    for (const name of names) {
      files[`${folder}/${name}`] = sha256Hex(await Deno.readFile(`${dir}/${folder}/${name}`));
    }
  }
  const record = {
    about:
      "Written by `deno task pretrain`; the weights are reproduced byte for byte by rerunning " +
      "it on the backend named here.",
    recipe,
    backend: PRETRAIN_BACKEND,
    concepts: "src/mtil/concepts (pool.ts: what each pair shows and says)",
    temperature: run.temperature,
    losses: run.losses,
    files,
  };
  await writeFileAtomic(
    `${dir}/pretrain.json`,
    new TextEncoder().encode(`${JSON.stringify(record, null, 1)}\n`),
  );
}

/** Puts folder `staging` at `target`, replacing what was there only once the new one is whole. */
async function replaceFolder(staging: string, target: string): Promise<void> {
  const previous = `${target}.old-${crypto.randomUUID().slice(0, 8)}`;
  let moved = false;
  try {
    await Deno.rename(target, previous);
    moved = true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(staging, target);
  if (moved) await Deno.remove(previous, { recursive: true });
}

export async function main(args: string[]): Promise<number> {
  const values = commandOptions(args, {
    options: {
      out: { type: "string", default: DEFAULT_OUT },
      steps: { type: "string" },
      first: { type: "string" },
      backend: { type: "string", default: PRETRAIN_BACKEND },
      quiet: { type: "boolean", default: false },
    },
    usage: USAGE,
  });
  if (typeof values === "number") return values;
  const count = (flag: "steps" | "first") => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${flag} ${text}`);
    return value;
  };
  let steps, first;
  try {
    steps = count("steps");
    first = count("first");
  } catch (error) {
    console.error(`${(error as Error).message}: expected an integer >= 1\n${USAGE}`);
    return 2;
  }
  if (!isBackendName(values.backend)) {
    console.error(`unknown backend "${values.backend}"\n${USAGE}`);
    return 2;
  }
  const recipe = { ...DEFAULT_RECIPE, steps: steps ?? DEFAULT_RECIPE.steps };
  if (first !== undefined && first > recipe.steps) {
    console.error(`--first ${first} is more than the recipe's ${recipe.steps} steps\n${USAGE}`);
    return 2;
  }
  const backend = await useBackend(values.backend as BackendName);
  const started = performance.now();
  const every = Math.max(1, Math.round(recipe.steps / 60));
  const run = await runPretraining(recipe, {
    out: values.out,
    first,
    onProgress: (step, loss) => {
      if (values.quiet || (step % every !== 0 && step !== (first ?? recipe.steps))) return;
      const seconds = (performance.now() - started) / 1000;
      console.error(
        `step ${step}/${first ?? recipe.steps}: loss ${loss.toFixed(4)} (${seconds.toFixed(0)} s)`,
      );
    },
  });
  if (first !== undefined) {
    console.log(JSON.stringify({ backend, losses: run.losses }));
    return 0;
  }
  console.log(
    `wrote ${values.out} (backend ${backend}, ${recipe.steps} steps, ` +
      `final loss ${run.losses.at(-1)?.toFixed(4)}, temperature ${run.temperature.toFixed(1)})`,
  );
  return 0;
}
