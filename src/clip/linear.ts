import type * as tf from "@tensorflow/tfjs";
import type { EncoderName, LinearTarget } from "./arch.ts";

/**
 * One linear layer of the CLIP backbone, reachable by name so an adapter can attach to it.
 *
 * The weight is stored input-major, `[d_in, d_out]`, so `y = x · W + b` is a plain matmul: on
 * tfjs-wasm a matmul with transposeB takes a slow path. (PyTorch stores `[d_out, d_in]`; the weight
 * loader transposes once at load.)
 */
export interface LinearLayer {
  /** e.g. `visual.blocks.3.attn.q` */
  readonly name: string;
  readonly encoder: EncoderName;
  readonly block: number;
  readonly target: LinearTarget;
  /** [d_in, d_out] */
  weight: tf.Tensor2D;
  /** [d_out] */
  bias: tf.Tensor1D;
}

/**
 * How the model applies a linear layer. The plain CLIP forward uses `plainLinear`; the method
 * substitutes its own (adapter, router) without touching the model code.
 * `x` is `[batch, tokens, d_in]`; the result `[batch, tokens, d_out]`.
 */
export type LinearApply = (layer: LinearLayer, x: tf.Tensor3D) => tf.Tensor3D;

/** The frozen layer as is: `x · W + b`, as one 2-D matmul over all tokens. */
export const plainLinear: LinearApply = (layer, x) => {
  const [batch, tokens, dIn] = x.shape;
  const dOut = layer.weight.shape[1];
  const flat = x.reshape([batch * tokens, dIn]); // [batch * tokens, d_in]
  return flat.matMul(layer.weight).add(layer.bias).reshape([batch, tokens, dOut]) as tf.Tensor3D;
};

/**
 * What a checkpointed forward (`EncodeOptions.checkpoint`) asks of a hook that carries trainable
 * state: which variables a block reads (they become the block's gradient inputs, since a custom
 * gradient only returns gradients for its inputs), and a replay of the forward for the backward
 * pass's recomputation.
 */
export interface Replayable {
  /** The trainable variables the adapters of `layers` read. */
  variablesFor(layers: readonly LinearLayer[]): tf.Variable[];
  /**
   * Runs `compute` as a replay of the forward already made: the same random draws per layer, and
   * no side effect counted a second time (e.g. activation counts).
   */
  replay<T>(compute: () => T): T;
}

/** A `LinearApply` that can also be replayed: usable wherever a plain hook is. */
export type ReplayableLinearApply = LinearApply & Replayable;

export function isReplayable(linear: LinearApply): linear is ReplayableLinearApply {
  const candidate = linear as Partial<Replayable>;
  return typeof candidate.variablesFor === "function" && typeof candidate.replay === "function";
}
