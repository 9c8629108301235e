/**
 * AdamW with decoupled weight decay, step for step as torch.optim.AdamW (amsgrad off), on tfjs
 * variables; and torch's CosineAnnealingLR schedule. tfjs's Adam has no decoupled decay.
 *
 *   p ← p · (1 − lr·wd)
 *   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)
 */
import * as tf from "@tensorflow/tfjs";

export interface AdamWOptions {
  weightDecay: number;
  betas: [number, number];
  /** torch's default 1e-8. */
  epsilon?: number;
}

function zeroMoment(like: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(like);
  const moment = tf.variable(zeros, false);
  zeros.dispose();
  return moment;
}

export class AdamW {
  readonly #variables: tf.Variable[];
  readonly #firstMoments: tf.Variable[];
  readonly #secondMoments: tf.Variable[];
  readonly #options: Required<AdamWOptions>;
  #step = 0;

  constructor(variables: tf.Variable[], options: AdamWOptions) {
    this.#variables = variables;
    this.#options = { epsilon: 1e-8, ...options };
    this.#firstMoments = variables.map(zeroMoment);
    this.#secondMoments = variables.map(zeroMoment);
  }

  /** Optimiser steps taken so far. */
  get stepCount(): number {
    return this.#step;
  }

  /** One update with learning rate `lr`; `gradients` by variable name (missing = no update). */
  applyGradients(gradients: tf.NamedTensorMap, lr: number): void {
    this.#step += 1;
    const [beta1, beta2] = this.#options.betas;
    const { weightDecay, epsilon } = this.#options;
    const correction1 = 1 - beta1 ** this.#step;
    const correction2Root = Math.sqrt(1 - beta2 ** this.#step);
    tf.tidy(() => {
      this.#variables.forEach((variable, i) => {
        const gradient = gradients[variable.name];
        if (gradient === undefined) return;
        const m = this.#firstMoments[i]!;
        const v = this.#secondMoments[i]!;
        const decayed = tf.mul(variable, 1 - lr * weightDecay);
        const nextM = tf.add(tf.mul(m, beta1), tf.mul(gradient, 1 - beta1));
        const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(gradient), 1 - beta2));
        const denominator = tf.add(tf.div(tf.sqrt(nextV), correction2Root), epsilon);
        const update = tf.mul(tf.div(nextM, denominator), lr / correction1);
        m.assign(nextM);
        v.assign(nextV);
        variable.assign(tf.sub(decayed, update));
      });
    });
  }

  dispose(): void {
    for (const moment of [...this.#firstMoments, ...this.#secondMoments]) moment.dispose();
  }
}

/**
 * torch CosineAnnealingLR (closed form): lr at optimiser step `step` (0-based) of a schedule of
 * length `iterations`: minLr + (lr − minLr)·(1 + cos(π·step / iterations)) / 2. The released loop
 * runs iterations + 1 steps, so its last step uses exactly `minLr`.
 */
export function cosineLearningRate(
  step: number,
  options: { lr: number; minLr: number; iterations: number },
): number {
  const { lr, minLr, iterations } = options;
  if (iterations <= 0) return lr;
  return minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * step) / iterations))) / 2;
}
