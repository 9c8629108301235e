/**
 * Every trainable backbone tensor of a `ClipModel` by a stable name, with a setter: what full
 * fine-tuning trains and what its task delta replaces. `logit_scale` stays frozen (as in every
 * method here) and the causal mask is not a parameter.
 */
import type * as tf from "@tensorflow/tfjs";
import type { ClipModel, LayerNorm } from "../clip/model.ts";

export interface TensorSlot {
  /** e.g. `visual.blocks.0.attn.q.weight` (input-major), `vision.patch_weight`, `text.ln_final.bias` */
  name: string;
  get(): tf.Tensor;
  /** Puts `value` in place (the caller disposes the previous tensor if it owns it). */
  set(value: tf.Tensor): void;
}

function normSlots(prefix: string, norm: LayerNorm): TensorSlot[] {
  return [
    {
      name: `${prefix}.weight`,
      get: () => norm.weight,
      set: (v) => (norm.weight = v as tf.Tensor1D),
    },
    { name: `${prefix}.bias`, get: () => norm.bias, set: (v) => (norm.bias = v as tf.Tensor1D) },
  ];
}

export function modelSlots(model: ClipModel): TensorSlot[] {
  const slots: TensorSlot[] = [];
  for (const layer of model.linears.values()) {
    slots.push(
      {
        name: `${layer.name}.weight`,
        get: () => layer.weight,
        set: (v) => (layer.weight = v as tf.Tensor2D),
      },
      {
        name: `${layer.name}.bias`,
        get: () => layer.bias,
        set: (v) => (layer.bias = v as tf.Tensor1D),
      },
    );
  }
  const { vision, text } = model;
  slots.push(
    {
      name: "vision.patch_weight",
      get: () => vision.patchWeight,
      set: (v) => (vision.patchWeight = v as tf.Tensor2D),
    },
    {
      name: "vision.class_embedding",
      get: () => vision.classEmbedding,
      set: (v) => (vision.classEmbedding = v as tf.Tensor1D),
    },
    {
      name: "vision.positional_embedding",
      get: () => vision.positionalEmbedding,
      set: (v) => (vision.positionalEmbedding = v as tf.Tensor2D),
    },
    {
      name: "vision.projection",
      get: () => vision.projection,
      set: (v) => (vision.projection = v as tf.Tensor2D),
    },
    {
      name: "text.token_embedding",
      get: () => text.tokenEmbedding,
      set: (v) => (text.tokenEmbedding = v as tf.Tensor2D),
    },
    {
      name: "text.positional_embedding",
      get: () => text.positionalEmbedding,
      set: (v) => (text.positionalEmbedding = v as tf.Tensor2D),
    },
    {
      name: "text.projection",
      get: () => text.projection,
      set: (v) => (text.projection = v as tf.Tensor2D),
    },
    ...normSlots("vision.ln_pre", vision.lnPre),
    ...normSlots("vision.ln_post", vision.lnPost),
    ...normSlots("text.ln_final", text.lnFinal),
  );
  vision.blocks.forEach((block, i) => {
    slots.push(...normSlots(`vision.blocks.${i}.ln_1`, block.ln1));
    slots.push(...normSlots(`vision.blocks.${i}.ln_2`, block.ln2));
  });
  text.blocks.forEach((block, i) => {
    slots.push(...normSlots(`text.blocks.${i}.ln_1`, block.ln1));
    slots.push(...normSlots(`text.blocks.${i}.ln_2`, block.ln2));
  });
  return slots;
}

/** A `DenseSetter` for `applyTaskDelta`: replaces (and disposes) the named backbone tensor. */
export function denseSetterFor(model: ClipModel): (name: string, value: tf.Tensor) => boolean {
  const slots = new Map(modelSlots(model).map((slot) => [slot.name, slot]));
  return (name, value) => {
    const slot = slots.get(name);
    if (slot === undefined) return false;
    const old = slot.get();
    if (old !== value) old.dispose();
    slot.set(value);
    return true;
  };
}
