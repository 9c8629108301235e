/**
 * A pool on a single linear (vision block 0's `fc`, any [d_in, d_out]) for unit tests of the
 * adapter and of AGO, where every number can be worked out by hand.
 */
import type * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../src/clip/arch.ts";
import { EXPERT_POOL_DEFAULTS, type MethodConfig } from "../src/method/config.ts";

/** One block, vision only; fc maps width -> mlpWidth, so `fc` gives any [d_in, d_out]. */
export function tinyArch(dIn: number, dOut: number): ClipArch {
  const vision = { imageSize: 8, patchSize: 4, width: dIn, layers: 1, heads: 1, mlpWidth: dOut };
  const text = { contextLength: 4, vocabSize: 10, width: dIn, layers: 1, heads: 1, mlpWidth: dOut };
  return { name: "tiny", embedDim: 4, vision, text };
}

/** The expert pool on `visual.blocks.0.mlp.fc` only, without dropout; `overrides` win. */
export function singleLinearConfig(overrides: Partial<MethodConfig>): MethodConfig {
  return {
    ...structuredClone(EXPERT_POOL_DEFAULTS),
    encoders: ["vision"],
    targets: ["fc"],
    dropout: 0,
    ...overrides,
  };
}

/** Assigns without leaking the temporary tensor. */
export function assignTidy(variable: tf.Variable, value: tf.Tensor): void {
  variable.assign(value);
  value.dispose();
}
