/**
 * Random CLIP models, deterministic from a seed: written as safetensors in either key layout (so
 * tests and the offline quickstart have a model without downloads) or built in memory (so
 * benchmarks can time a ViT-B/16-shaped model without its 600 MB of weights).
 *
 * The initialisation follows the scales of OpenAI's `initialize_parameters` loosely (linear
 * weights ~ N(0, 1/d_in), embeddings ~ N(0, 0.02²), layer norms near identity) so activations stay
 * O(1) through the blocks and embeddings are not degenerate.
 */
import * as tf from "@tensorflow/tfjs";
import { SeededRng } from "../io/rng.ts";
import type { Float32Tensor } from "../io/safetensors.ts";
import type { ClipArch } from "./arch.ts";
import { buildModel, type ClipModel, parameterShapes } from "./model.ts";
import { INITIAL_LOGIT_SCALE, writeClipWeights } from "./weights.ts";
import type { WeightLayout } from "./weights_header.ts";

function normals(rng: SeededRng, count: number, mean: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // Box-Muller: two independent N(0, 1) draws from two uniforms.
    const radius = Math.sqrt(-2 * Math.log(1 - rng.nextFloat()));
    const angle = 2 * Math.PI * rng.nextFloat();
    out[i] = mean + std * radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = mean + std * radius * Math.sin(angle);
  }
  return out;
}

/** The (mean, std) a canonical parameter is drawn from. */
function initFor(name: string, shape: number[]): [number, number] {
  if (name === "logit_scale") return [INITIAL_LOGIT_SCALE, 0];
  if (/\bln_\w+\.weight$|ln_final\.weight$/.test(name)) return [1, 0.02];
  if (name.endsWith(".bias")) return [0, 0.02];
  if (name.endsWith("token_embedding") || name.endsWith("positional_embedding")) return [0, 0.02];
  if (name === "visual.class_embedding") return [0, shape[0]! ** -0.5];
  if (name === "visual.conv1.weight") return [0, (shape[1]! * shape[2]! * shape[3]!) ** -0.5];
  if (name === "visual.proj" || name === "text.proj") return [0, shape[0]! ** -0.5];
  return [0, shape[1]! ** -0.5]; // a linear weight [d_out, d_in]
}

/** Canonical parameters (see `parameterShapes`) drawn from `seed`; same seed, same values. */
export function randomParameters(arch: ClipArch, seed: number): Map<string, Float32Tensor> {
  const rng = new SeededRng(seed);
  const params = new Map<string, Float32Tensor>();
  for (const [name, shape] of parameterShapes(arch)) {
    const count = shape.reduce((product, dim) => product * dim, 1);
    const [mean, std] = initFor(name, shape);
    params.set(name, { shape, data: normals(rng, count, mean, std) });
  }
  return params;
}

/** A random model on the current backend, never written to disk (benchmarks). */
export function randomClipModel(arch: ClipArch, options: { seed?: number } = {}): ClipModel {
  const params = new Map<string, tf.Tensor>();
  for (const [name, { shape, data }] of randomParameters(arch, options.seed ?? 0)) {
    params.set(name, tf.tensor(data, shape));
  }
  return buildModel(arch, params);
}

export interface SyntheticOptions {
  layout: WeightLayout;
  seed?: number;
  /** Overrides the preset's vocabulary size (e.g. 49408 to pair a tiny model with CLIP's BPE). */
  vocabSize?: number;
}

/**
 * Writes a random CLIP of architecture `arch` into folder `dir` (created if needed) as
 * `model.safetensors` in the given key layout (+ `config.json` for HF). Both layouts written from
 * the same seed hold the same model. Returns the architecture written.
 */
export async function writeSyntheticClip(
  dir: string,
  arch: ClipArch,
  options: SyntheticOptions,
): Promise<ClipArch> {
  const written: ClipArch = options.vocabSize === undefined
    ? arch
    : { ...arch, text: { ...arch.text, vocabSize: options.vocabSize } };
  await writeClipWeights(dir, written, randomParameters(written, options.seed ?? 0), {
    layout: options.layout,
  });
  return written;
}
