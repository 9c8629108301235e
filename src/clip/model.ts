/**
 * CLIP (Radford et al. 2021) as OpenAI's model.py builds it: a ViT image tower and a causal text
 * transformer, both pre-LN with QuickGELU, each ending in a projection into the shared space.
 *
 * Every adapted linear (q, k, v, out, fc, proj of every block) is a `LinearLayer` in
 * `model.linears` and is applied through a `LinearApply` hook, so a method can add adapters
 * without touching this file. The forward is differentiable: training takes gradients w.r.t.
 * adapter variables through the frozen weights.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import {
  type ClipArch,
  type EncoderName,
  LINEAR_TARGETS,
  linearName,
  linearShape,
  type LinearTarget,
} from "./arch.ts";
import { isReplayable, type LinearApply, type LinearLayer, plainLinear } from "./linear.ts";

const LAYER_NORM_EPSILON = 1e-5;

export interface LayerNorm {
  weight: tf.Tensor1D; // [width]
  bias: tf.Tensor1D; // [width]
}

/** The non-linear parameters of one residual block; its linears live in `model.linears`. */
export interface Block {
  ln1: LayerNorm;
  ln2: LayerNorm;
}

export interface VisionTower {
  /** The patch convolution as a matmul: [3 * patch * patch, width], rows in (channel, y, x) order. */
  patchWeight: tf.Tensor2D;
  classEmbedding: tf.Tensor1D; // [width]
  positionalEmbedding: tf.Tensor2D; // [1 + grid * grid, width]
  lnPre: LayerNorm;
  blocks: Block[];
  lnPost: LayerNorm;
  projection: tf.Tensor2D; // [width, embed]
}

export interface TextTower {
  tokenEmbedding: tf.Tensor2D; // [vocab, width]
  positionalEmbedding: tf.Tensor2D; // [context, width]
  blocks: Block[];
  lnFinal: LayerNorm;
  projection: tf.Tensor2D; // [width, embed]
  /** 0 on and below the diagonal, -1e9 above: token i attends to tokens 0..i. */
  causalMask: tf.Tensor2D; // [context, context]
}

export interface ClipModel {
  arch: ClipArch;
  /** Every adapted linear by name: `visual.blocks.3.attn.q`, `text.blocks.0.mlp.fc`, ... */
  linears: Map<string, LinearLayer>;
  vision: VisionTower;
  text: TextTower;
  /** log of the logit scale (OpenAI: ln 100 = 4.6052 after training). */
  logitScale: tf.Scalar;
}

export interface EncodeOptions {
  /** How adapted linears are applied; default `plainLinear` (x · W + b). */
  linear?: LinearApply;
  /**
   * Per-block gradient checkpointing: the gradient tape keeps only each residual block's input,
   * and the backward pass recomputes the block (replaying the hook when it is `Replayable`), so a
   * training step holds one block's intermediates at a time instead of all of them. Gradients
   * reach the block input and the variables the hook names (`Replayable.variablesFor`); frozen
   * tensors inside a block (layer norms, backbone weights) get none, so full fine-tuning must
   * not use it. Default false.
   */
  checkpoint?: boolean;
}

/**
 * The parameters `buildModel` takes, by canonical name, in PyTorch's shapes (linear weights
 * `[d_out, d_in]`, the patch convolution `[width, 3, patch, patch]`, projections `[width, embed]`).
 * Adapted linears are named `linearName(...)` + `.weight` / `.bias`.
 */
export function parameterShapes(arch: ClipArch): Map<string, number[]> {
  const { vision, text, embedDim } = arch;
  const grid = vision.imageSize / vision.patchSize;
  const shapes = new Map<string, number[]>();
  const blocks = (encoder: EncoderName, prefix: string, layers: number, width: number) => {
    for (let block = 0; block < layers; block++) {
      for (const norm of ["ln_1", "ln_2"]) {
        shapes.set(`${prefix}.blocks.${block}.${norm}.weight`, [width]);
        shapes.set(`${prefix}.blocks.${block}.${norm}.bias`, [width]);
      }
      for (const target of LINEAR_TARGETS) {
        const [dIn, dOut] = linearShape(arch, encoder, target);
        shapes.set(`${linearName(encoder, block, target)}.weight`, [dOut, dIn]);
        shapes.set(`${linearName(encoder, block, target)}.bias`, [dOut]);
      }
    }
  };
  shapes.set("visual.conv1.weight", [vision.width, 3, vision.patchSize, vision.patchSize]);
  shapes.set("visual.class_embedding", [vision.width]);
  shapes.set("visual.positional_embedding", [grid * grid + 1, vision.width]);
  shapes.set("visual.ln_pre.weight", [vision.width]);
  shapes.set("visual.ln_pre.bias", [vision.width]);
  blocks("vision", "visual", vision.layers, vision.width);
  shapes.set("visual.ln_post.weight", [vision.width]);
  shapes.set("visual.ln_post.bias", [vision.width]);
  shapes.set("visual.proj", [vision.width, embedDim]);
  shapes.set("text.token_embedding", [text.vocabSize, text.width]);
  shapes.set("text.positional_embedding", [text.contextLength, text.width]);
  blocks("text", "text", text.layers, text.width);
  shapes.set("text.ln_final.weight", [text.width]);
  shapes.set("text.ln_final.bias", [text.width]);
  shapes.set("text.proj", [text.width, embedDim]);
  shapes.set("logit_scale", []);
  return shapes;
}

/**
 * Assembles a model from canonical parameters (see `parameterShapes`), taking ownership of the
 * tensors: linear weights are transposed to input-major once here, the originals disposed.
 */
export function buildModel(arch: ClipArch, params: Map<string, tf.Tensor>): ClipModel {
  const expected = parameterShapes(arch);
  for (const [name, shape] of expected) {
    const tensor = params.get(name);
    if (tensor === undefined) throw new Error(`buildModel: parameter "${name}" is missing`);
    if (!tf.util.arraysEqual(tensor.shape, shape)) {
      throw new Error(`buildModel: "${name}" has shape [${tensor.shape}], expected [${shape}]`);
    }
  }
  const take = <T extends tf.Tensor>(name: string) => params.get(name)! as T;
  const layerNorm = (prefix: string): LayerNorm => ({
    weight: take(`${prefix}.weight`),
    bias: take(`${prefix}.bias`),
  });
  const linears = new Map<string, LinearLayer>();
  const blocks = (encoder: EncoderName, prefix: string, layers: number): Block[] => {
    const out: Block[] = [];
    for (let block = 0; block < layers; block++) {
      for (const target of LINEAR_TARGETS) {
        const name = linearName(encoder, block, target);
        const torchWeight = take<tf.Tensor2D>(`${name}.weight`); // [d_out, d_in]
        const weight = tf.transpose(torchWeight); // [d_in, d_out]
        torchWeight.dispose();
        linears.set(name, { name, encoder, block, target, weight, bias: take(`${name}.bias`) });
      }
      out.push({
        ln1: layerNorm(`${prefix}.blocks.${block}.ln_1`),
        ln2: layerNorm(`${prefix}.blocks.${block}.ln_2`),
      });
    }
    return out;
  };
  const conv = take<tf.Tensor4D>("visual.conv1.weight"); // [width, 3, p, p]
  const patchWeight = tf.tidy(() => conv.reshape([arch.vision.width, -1]).transpose<tf.Tensor2D>());
  conv.dispose();
  const context = arch.text.contextLength;
  const causalMask = tf.tidy(() =>
    tf.linalg.bandPart(tf.ones([context, context]), -1, 0).sub(1).mul(1e9) as tf.Tensor2D
  );
  return {
    arch,
    linears,
    vision: {
      patchWeight,
      classEmbedding: take("visual.class_embedding"),
      positionalEmbedding: take("visual.positional_embedding"),
      lnPre: layerNorm("visual.ln_pre"),
      blocks: blocks("vision", "visual", arch.vision.layers),
      lnPost: layerNorm("visual.ln_post"),
      projection: take("visual.proj"),
    },
    text: {
      tokenEmbedding: take("text.token_embedding"),
      positionalEmbedding: take("text.positional_embedding"),
      blocks: blocks("text", "text", arch.text.layers),
      lnFinal: layerNorm("text.ln_final"),
      projection: take("text.proj"),
      causalMask,
    },
    logitScale: take("logit_scale"),
  };
}

/**
 * The model's parameters by canonical name in PyTorch's shapes (what `buildModel` takes), read
 * back from the backend: linear weights `[d_out, d_in]`, the patch convolution
 * `[width, 3, patch, patch]`. Writing them in a key layout saves a trained model.
 */
export async function canonicalParameters(
  model: ClipModel,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const { arch, vision, text } = model;
  const tensors = new Map<string, tf.Tensor>();
  const owned: tf.Tensor[] = [];
  const derived = (tensor: tf.Tensor) => {
    owned.push(tensor);
    return tensor;
  };
  const norm = (prefix: string, layerNorm: LayerNorm) => {
    tensors.set(`${prefix}.weight`, layerNorm.weight);
    tensors.set(`${prefix}.bias`, layerNorm.bias);
  };
  for (const layer of model.linears.values()) {
    tensors.set(`${layer.name}.weight`, derived(tf.transpose(layer.weight)));
    tensors.set(`${layer.name}.bias`, layer.bias);
  }
  vision.blocks.forEach((block, i) => {
    norm(`visual.blocks.${i}.ln_1`, block.ln1);
    norm(`visual.blocks.${i}.ln_2`, block.ln2);
  });
  text.blocks.forEach((block, i) => {
    norm(`text.blocks.${i}.ln_1`, block.ln1);
    norm(`text.blocks.${i}.ln_2`, block.ln2);
  });
  const { width, patchSize } = arch.vision;
  tensors.set(
    "visual.conv1.weight",
    derived(
      tf.tidy(() => tf.transpose(vision.patchWeight).reshape([width, 3, patchSize, patchSize])),
    ),
  );
  tensors.set("visual.class_embedding", vision.classEmbedding);
  tensors.set("visual.positional_embedding", vision.positionalEmbedding);
  norm("visual.ln_pre", vision.lnPre);
  norm("visual.ln_post", vision.lnPost);
  tensors.set("visual.proj", vision.projection);
  tensors.set("text.token_embedding", text.tokenEmbedding);
  tensors.set("text.positional_embedding", text.positionalEmbedding);
  norm("text.ln_final", text.lnFinal);
  tensors.set("text.proj", text.projection);
  tensors.set("logit_scale", model.logitScale);
  try {
    const params = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of parameterShapes(arch).keys()) {
      const tensor = tensors.get(name)!;
      params.set(name, { shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) });
    }
    return params;
  } finally {
    tf.dispose(owned);
  }
}

/** Every tensor a model owns. */
function modelTensors(model: ClipModel): tf.Tensor[] {
  const norms = (blocks: Block[]) => blocks.flatMap((b) => [b.ln1, b.ln2]);
  const { vision, text } = model;
  const layerNorms = [vision.lnPre, vision.lnPost, text.lnFinal, ...norms(vision.blocks)]
    .concat(norms(text.blocks));
  return [
    ...[...model.linears.values()].flatMap((layer) => [layer.weight, layer.bias]),
    ...layerNorms.flatMap((norm) => [norm.weight, norm.bias]),
    vision.patchWeight,
    vision.classEmbedding,
    vision.positionalEmbedding,
    vision.projection,
    text.tokenEmbedding,
    text.positionalEmbedding,
    text.projection,
    text.causalMask,
    model.logitScale,
  ];
}

export function disposeModel(model: ClipModel): void {
  tf.dispose(modelTensors(model));
}

/** An independent copy (own tensors): e.g. the state before merging a task's experts. */
export function cloneModel(model: ClipModel): ClipModel {
  const ln = (norm: LayerNorm): LayerNorm => ({
    weight: norm.weight.clone(),
    bias: norm.bias.clone(),
  });
  const blocks = (list: Block[]) => list.map((b) => ({ ln1: ln(b.ln1), ln2: ln(b.ln2) }));
  const linears = new Map<string, LinearLayer>();
  for (const [name, layer] of model.linears) {
    linears.set(name, { ...layer, weight: layer.weight.clone(), bias: layer.bias.clone() });
  }
  const { vision, text } = model;
  return {
    arch: model.arch,
    linears,
    vision: {
      patchWeight: vision.patchWeight.clone(),
      classEmbedding: vision.classEmbedding.clone(),
      positionalEmbedding: vision.positionalEmbedding.clone(),
      lnPre: ln(vision.lnPre),
      blocks: blocks(vision.blocks),
      lnPost: ln(vision.lnPost),
      projection: vision.projection.clone(),
    },
    text: {
      tokenEmbedding: text.tokenEmbedding.clone(),
      positionalEmbedding: text.positionalEmbedding.clone(),
      blocks: blocks(text.blocks),
      lnFinal: ln(text.lnFinal),
      projection: text.projection.clone(),
      causalMask: text.causalMask.clone(),
    },
    logitScale: model.logitScale.clone(),
  };
}

/** One adapted linear by name, or an error listing what exists. */
export function getLinear(model: ClipModel, name: string): LinearLayer {
  const layer = model.linears.get(name);
  if (layer === undefined) {
    throw new UserError(
      `No linear layer "${name}" in ${model.arch.name} (e.g. ${linearName("vision", 0, "q")})`,
    );
  }
  return layer;
}

/**
 * Replaces a linear's weight (`[d_in, d_out]`, input-major), e.g. W + ΔW after merging experts.
 * The model takes ownership of `weight` and disposes the old one.
 */
export function setLinearWeight(model: ClipModel, name: string, weight: tf.Tensor2D): void {
  const layer = getLinear(model, name);
  if (!tf.util.arraysEqual(layer.weight.shape, weight.shape)) {
    throw new UserError(
      `Cannot set ${name}: weight has shape [${weight.shape.join(", ")}], expected ` +
        `[${layer.weight.shape.join(", ")}]`,
    );
  }
  if (layer.weight !== weight) layer.weight.dispose();
  layer.weight = weight;
}

function layerNorm(x: tf.Tensor3D, norm: LayerNorm): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(LAYER_NORM_EPSILON))).mul(norm.weight).add(
    norm.bias,
  );
}

function quickGelu(x: tf.Tensor3D): tf.Tensor3D {
  return x.mul(tf.sigmoid(x.mul(1.702)));
}

interface BlockContext {
  model: ClipModel;
  encoder: EncoderName;
  blocks: Block[];
  heads: number;
  linear: LinearApply;
  /**
   * The model's causal mask `[context, context]` (text), or null (vision). Owned by the model, so
   * a checkpointed block's backward pass, which runs after `encodeText` returns, can still read
   * it; a shorter input uses its top-left `[tokens, tokens]`.
   */
  mask: tf.Tensor2D | null;
  checkpoint: boolean;
}

function apply(context: BlockContext, block: number, target: LinearTarget, x: tf.Tensor3D) {
  const layer = context.model.linears.get(linearName(context.encoder, block, target))!;
  return context.linear(layer, x);
}

/** Multi-head self-attention of one block; `h` is `[batch, tokens, width]`. */
function attention(context: BlockContext, block: number, h: tf.Tensor3D): tf.Tensor3D {
  const [batch, tokens, width] = h.shape;
  const heads = context.heads;
  const headWidth = width / heads;
  const split = (x: tf.Tensor3D) => x.reshape([batch, tokens, heads, headWidth]);
  // Explicit transposes, no transposeA/B flags: wasm runs flagged matmuls ~45x slower.
  const q = split(apply(context, block, "q", h)).transpose([0, 2, 1, 3]); // [b, heads, t, hw]
  const kT = split(apply(context, block, "k", h)).transpose([0, 2, 3, 1]); // [b, heads, hw, t]
  const v = split(apply(context, block, "v", h)).transpose([0, 2, 1, 3]); // [b, heads, t, hw]
  let scores = tf.matMul(q.mul(1 / Math.sqrt(headWidth)), kT); // [b, heads, t, t]
  if (context.mask !== null) {
    const mask = tokens === context.mask.shape[0]
      ? context.mask
      : context.mask.slice([0, 0], [tokens, tokens]); // [t, t]
    scores = scores.add(mask);
  }
  const weights = tf.softmax(scores); // over the last axis: keys
  const mixed = tf.matMul(weights, v).transpose([0, 2, 1, 3]); // [b, t, heads, hw]
  return apply(context, block, "out", mixed.reshape([batch, tokens, width]));
}

/** One pre-LN residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
function residualBlock(context: BlockContext, index: number, x: tf.Tensor3D): tf.Tensor3D {
  const block = context.blocks[index]!;
  x = x.add(attention(context, index, layerNorm(x, block.ln1)));
  const hidden = quickGelu(apply(context, index, "fc", layerNorm(x, block.ln2)));
  return x.add(apply(context, index, "proj", hidden));
}

/**
 * The gradients of `compute()` w.r.t. `xs` for the upstream gradient `dy`, taken while an outer
 * backward pass is running. tfjs keeps one active tape: a nested `gradients()` replaces it and
 * sets it to null when done, after which the outer pass could not release its saved tensors.
 * The outer tape is put back. Inputs the result does not depend on get zeros.
 */
function nestedGradients(compute: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const engine = tf.engine();
  const outerTape = engine.state.activeTape;
  try {
    const { value, grads } = engine.gradients(compute, xs, dy, true);
    value.dispose();
    return xs.map((x, i) => grads[i] ?? tf.zerosLike(x));
  } finally {
    engine.state.activeTape = outerTape;
  }
}

/**
 * `residualBlock` under a custom gradient whose inputs are the block input and the hook's
 * variables of this block: the forward keeps only its output (and the input, saved), and the
 * backward recomputes the block on the tape to get d input and d variables.
 */
function checkpointedBlock(context: BlockContext, index: number, x: tf.Tensor3D): tf.Tensor3D {
  const hook = isReplayable(context.linear) ? context.linear : null;
  const layers = LINEAR_TARGETS.map((target) =>
    context.model.linears.get(linearName(context.encoder, index, target))!
  );
  const variables: tf.Tensor[] = hook?.variablesFor(layers) ?? [];
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor3D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([input]);
    return {
      value: residualBlock(context, index, input), // [batch, tokens, width]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedInput = saved[0] as tf.Tensor3D;
        const recompute = () =>
          nestedGradients(() => residualBlock(context, index, savedInput), [
            savedInput,
            ...variables,
          ], dy);
        return hook === null ? recompute() : hook.replay(recompute);
      },
    };
  });
  return run(x, ...variables) as tf.Tensor3D;
}

/** The residual blocks in order, each checkpointed when the context asks for it. */
function transformer(context: BlockContext, x: tf.Tensor3D): tf.Tensor3D {
  for (let index = 0; index < context.blocks.length; index++) {
    x = context.checkpoint
      ? checkpointedBlock(context, index, x)
      : residualBlock(context, index, x);
  }
  return x;
}

/**
 * Image features: projected, NOT normalised. `pixels` is normalised NCHW `[N, 3, H, W]` with
 * H = W = the model's image size. Returns `[N, embed]`.
 */
export function encodeImage(
  model: ClipModel,
  pixels: tf.Tensor4D,
  options: EncodeOptions = {},
): tf.Tensor2D {
  const { imageSize, patchSize, width, heads } = model.arch.vision;
  const [batch, channels, height, imageWidth] = pixels.shape;
  if (channels !== 3 || height !== imageSize || imageWidth !== imageSize) {
    throw new UserError(
      `pixels have shape [${
        pixels.shape.join(", ")
      }], expected [N, 3, ${imageSize}, ${imageSize}]` +
        ` for ${model.arch.name}`,
    );
  }
  const grid = imageSize / patchSize;
  const vision = model.vision;
  return tf.tidy(() => {
    // Patch embedding (a stride-p convolution) as a matmul over flattened patches, rank <= 4.
    const rows = pixels.reshape([batch * 3 * grid, patchSize, grid, patchSize])
      .transpose([0, 2, 1, 3]); // [b * 3 * gy, gx, py, px]
    const patches = rows.reshape([batch, 3, grid * grid, patchSize * patchSize])
      .transpose([0, 2, 1, 3]) // [b, g*g, 3, p*p]
      .reshape([batch * grid * grid, 3 * patchSize * patchSize]);
    const embedded = patches.matMul(vision.patchWeight).reshape([batch, grid * grid, width]);
    const classToken = vision.classEmbedding.reshape([1, 1, width]).tile([batch, 1, 1]);
    let x = tf.concat([classToken, embedded], 1).add(vision.positionalEmbedding) as tf.Tensor3D;
    x = layerNorm(x, vision.lnPre); // [b, 1 + g*g, width]
    const context: BlockContext = {
      model,
      encoder: "vision",
      blocks: vision.blocks,
      heads,
      linear: options.linear ?? plainLinear,
      mask: null,
      checkpoint: options.checkpoint ?? false,
    };
    x = transformer(context, x);
    const cls = layerNorm(x.slice([0, 0, 0], [batch, 1, width]), vision.lnPost); // [b, 1, width]
    return cls.reshape([batch, width]).matMul(vision.projection) as tf.Tensor2D; // [b, embed]
  });
}

/**
 * The number of token positions the text encoder needs for `ids` (int32 row-major
 * `[rows, contextLength]`): one past the last row's end token. Pooling reads each row at its
 * highest id (OpenAI's `text.argmax(dim=-1)`, the first position on a tie), and under the causal
 * mask position i attends only to positions 0..i, so nothing after a row's end token can change
 * its pooled feature: positions past the longest row's end token are dead work (prompts of the
 * MTIL datasets whose class names the benchmark fixes end within 18 of the 77). Counted on the
 * host, where the tokenizer's ids are, so the cut costs no read from the device.
 */
export function endTokenLength(ids: Int32Array, contextLength: number): number {
  if (ids.length % contextLength !== 0) {
    throw new RangeError(
      `endTokenLength: ${ids.length} token ids do not make rows of ${contextLength}`,
    );
  }
  let length = 1;
  for (let start = 0; start < ids.length; start += contextLength) {
    let end = start; // first position of the row's highest id, as argmax
    for (let i = start + 1; i < start + contextLength; i++) if (ids[i]! > ids[end]!) end = i;
    length = Math.max(length, end - start + 1);
  }
  return length;
}

/**
 * Token ids (int32 row-major `[rows, contextLength]`, as the tokenizer writes them) as the int32
 * tensor `encodeText` reads, cut after the longest row's end token: `[rows, endTokenLength]`.
 * The features equal those of the full rows (see `endTokenLength`) for less work.
 */
export function textTokens(ids: Int32Array, contextLength: number): tf.Tensor2D {
  const rows = ids.length / contextLength;
  const length = endTokenLength(ids, contextLength);
  const kept = new Int32Array(rows * length);
  for (let row = 0; row < rows; row++) {
    kept.set(ids.subarray(row * contextLength, row * contextLength + length), row * length);
  }
  return tf.tensor2d(kept, [rows, length], "int32");
}

/**
 * The rows of `table` [vocab, width] at `tokens` int32 [N, L]: [N, L, width]. Forward
 * is a gather; its gradient (what full fine-tuning and pretraining need for the table) is a
 * one-hot matmul, `onehot(tokens)ᵀ · dy`, because tfjs's own gather gradient needs
 * UnsortedSegmentSum, which tfjs-wasm lacks. Same sums as the gather gradient, in token order.
 */
export function embedTokens(table: tf.Tensor2D, tokens: tf.Tensor2D): tf.Tensor3D {
  const [batch, length] = tokens.shape;
  const [vocab, width] = table.shape;
  const lookup = tf.customGrad((rows) => {
    return {
      value: tf.gather(rows as tf.Tensor2D, tokens),
      gradFunc: (dy: tf.Tensor) => {
        // Built with where(): tfjs-wasm's OneHot ignores a float32 dtype (it writes int32 bits).
        const oneHot = tf.where(
          tf.equal(tokens.reshape([batch * length, 1]), tf.range(0, vocab, 1, "int32")),
          tf.scalar(1),
          tf.scalar(0),
        ); // [N * L, vocab]
        // [vocab, N * L] · [N * L, width]; explicit transpose (slow flag on wasm).
        return tf.matMul(tf.transpose(oneHot), dy.reshape([batch * length, width]));
      },
    };
  });
  return lookup(table) as tf.Tensor3D;
}

/**
 * Text features: projected, NOT normalised, pooled at each row's highest token id (the end token,
 * as OpenAI's `text.argmax(dim=-1)`). `tokens` is int32 `[N, L]`: the full context (L = context
 * length) or its first L positions when they hold every row's end token, as `textTokens` cuts
 * them; the result is the same either way, the shorter input is cheaper. Returns `[N, embed]`.
 */
export function encodeText(
  model: ClipModel,
  tokens: tf.Tensor2D,
  options: EncodeOptions = {},
): tf.Tensor2D {
  const { contextLength, width, heads } = model.arch.text;
  const [batch, length] = tokens.shape;
  if (length < 1 || length > contextLength || tokens.dtype !== "int32") {
    throw new UserError(
      `tokens have shape [${tokens.shape.join(", ")}] ${tokens.dtype}, expected int32 ` +
        `[N, L] with 1 <= L <= ${contextLength} for ${model.arch.name}`,
    );
  }
  const text = model.text;
  return tf.tidy(() => {
    const positions = length === contextLength
      ? text.positionalEmbedding
      : text.positionalEmbedding.slice([0, 0], [length, width]); // [L, width]
    let x = embedTokens(text.tokenEmbedding, tokens).add(positions) as tf.Tensor3D;
    const context: BlockContext = {
      model,
      encoder: "text",
      blocks: text.blocks,
      heads,
      linear: options.linear ?? plainLinear,
      mask: text.causalMask,
      checkpoint: options.checkpoint ?? false,
    };
    x = transformer(context, x); // [b, L, width]
    // Pool at each row's end token (its highest id) with a one-hot matmul rather than a gather:
    // the gradient of gather needs UnsortedSegmentSum, which tfjs-wasm lacks, and training takes
    // gradients through this pooling.
    // Built with where(): tfjs-webgpu casts int32 to float32 by relabelling the buffer, and the
    // transposed one-hot in the backward pass would read the integers' bits. The positions are
    // [1, L], not [L]: tfjs-webgpu compiles a comparison with a short rank-1 operand into a
    // shader keyed by its length, one more pipeline for every new L.
    const endToken = tf.where(
      tf.equal(
        tf.reshape(tf.argMax(tokens, 1), [batch, 1]),
        tf.reshape(tf.range(0, length, 1, "int32"), [1, length]),
      ),
      tf.scalar(1),
      tf.scalar(0),
    ); // [b, L]
    const pooled = tf.matMul(endToken.reshape([batch, 1, length]), x); // [b, 1, width]
    const normed = layerNorm(pooled.reshape([batch, 1, width]), text.lnFinal);
    return normed.reshape([batch, width]).matMul(text.projection) as tf.Tensor2D; // [b, embed]
  });
}
