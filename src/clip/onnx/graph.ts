/**
 * A CLIP model state (its current weights: base + merged deltas) as two ONNX graphs, the image
 * encoder and the text encoder, computing what OpenAI's model.py computes (and `encodeImage` /
 * `encodeText` in ../model.ts): patch embedding, class token, positional embedding, ln_pre,
 * pre-LN residual blocks (fused q/k/v projection as in nn.MultiheadAttention, softmax attention,
 * QuickGELU MLP), ln_post on the class token, projection; the text tower adds the causal mask and
 * pools at each row's end token (the highest id: `text.argmax(dim=-1)`, the first of tied maxima).
 * Outputs are projected, not normalised. The batch dimension is dynamic.
 *
 * Standard operators only, opset 17 (the first with LayerNormalization), so any ONNX runtime
 * loads them; ONNX Runtime's graph optimisations fuse QuickGELU. On its CPU provider the ViT-B/16
 * image graph is MatMul-bound (92% of kernel time at batch 4, at the CPU seconds per GFLOP of a
 * lone MatMul): written with ORT's contrib Attention and SkipLayerNormalization instead, it took
 * the same CPU time (1.00x, interleaved), so the portable form stays.
 *
 * Equal in value, not in operation order, to OpenAI's code in two places: the class embedding is
 * folded into row 0 of the positional embedding (`cls + pos[0]`, one float32 addition either
 * way) and fills a zero row padded in front of the patches; and the final layer norm is applied
 * to the pooled end token only (a layer norm is per token, so the pooled row is the same).
 */
import * as tf from "@tensorflow/tfjs";
import { attr, encodeOnnxModel, OnnxGraphBuilder, type OnnxValueInfo } from "../../io/onnx.ts";
import { type EncoderName, linearName, type LinearTarget } from "../arch.ts";
import type { Block, ClipModel, LayerNorm } from "../model.ts";

/** The first opset with LayerNormalization; IR version 8 is what opsets 14-18 ask for. */
export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
const LAYER_NORM_EPSILON = 1e-5;
const QUICK_GELU_ALPHA = 1.702;

/** Graph input and output names, as sessions feed and fetch them. */
export const IMAGE_INPUT = "pixels";
export const IMAGE_OUTPUT = "image_embeds";
export const TEXT_INPUT = "tokens";
export const TEXT_OUTPUT = "text_embeds";

async function values(tensor: tf.Tensor): Promise<Float32Array> {
  return await tensor.data<"float32">();
}

/** A tensor computed from model tensors (a transpose, a concatenation), read and freed. */
async function derived(compute: () => tf.Tensor): Promise<Float32Array> {
  const tensor = tf.tidy(compute);
  try {
    return await values(tensor);
  } finally {
    tensor.dispose();
  }
}

/** Builds one tower's graph; holds the builder and the model it reads weights from. */
class TowerGraph {
  readonly g: OnnxGraphBuilder;
  readonly #shared = new Map<string, string>();
  constructor(readonly model: ClipModel, readonly encoder: EncoderName) {
    this.g = new OnnxGraphBuilder(`${model.arch.name} ${encoder} encoder`);
  }

  /** A small constant every block uses (a shape, a scale), added once. */
  shared(name: string, make: (name: string) => string): string {
    let value = this.#shared.get(name);
    if (value === undefined) {
      value = make(name);
      this.#shared.set(name, value);
    }
    return value;
  }

  async constant(name: string, tensor: tf.Tensor): Promise<string> {
    return this.g.floats(name, tensor.shape, await values(tensor));
  }

  async layerNorm(x: string, norm: LayerNorm, name: string): Promise<string> {
    return this.g.node("LayerNormalization", [
      x,
      await this.constant(`${name}.weight`, norm.weight),
      await this.constant(`${name}.bias`, norm.bias),
    ], { attributes: { axis: attr.int(-1), epsilon: attr.float(LAYER_NORM_EPSILON) }, name });
  }

  /** `x · W + b` with the weight input-major `[d_in, d_out]`, as ONNX MatMul takes it. */
  async linear(x: string, block: number, target: LinearTarget): Promise<string> {
    const layer = this.model.linears.get(linearName(this.encoder, block, target))!;
    const product = this.g.node("MatMul", [
      x,
      await this.constant(`${layer.name}.weight`, layer.weight),
    ]);
    return this.g.node("Add", [product, await this.constant(`${layer.name}.bias`, layer.bias)], {
      name: layer.name,
    });
  }

  /**
   * Multi-head self-attention of block `index` on `h` `[batch, tokens, width]`; `mask` is an
   * additive `[tokens, tokens]` constant or null.
   */
  async attention(h: string, index: number, mask: string | null): Promise<string> {
    const g = this.g;
    const { width, heads } = this.encoder === "vision"
      ? this.model.arch.vision
      : this.model.arch.text;
    const headWidth = width / heads;
    const layer = (target: LinearTarget) =>
      this.model.linears.get(linearName(this.encoder, index, target))!;
    const prefix = `${this.encoder === "vision" ? "visual" : "text"}.blocks.${index}.attn`;
    // q, k, v in one [width, 3 * width] matmul, as nn.MultiheadAttention's in_proj.
    const weight = g.floats(
      `${prefix}.in_proj.weight`,
      [width, 3 * width],
      await derived(() => tf.concat([layer("q").weight, layer("k").weight, layer("v").weight], 1)),
    );
    const bias = g.floats(
      `${prefix}.in_proj.bias`,
      [3 * width],
      await derived(() => tf.concat([layer("q").bias, layer("k").bias, layer("v").bias])),
    );
    const qkv = g.node("Add", [g.node("MatMul", [h, weight]), bias]); // [b, t, 3 * width]
    const thirds = this.shared("qkv_split", (name) => g.int64s(name, [width, width, width]));
    const [q, k, v] = g.nodeOutputs("Split", [qkv, thirds], {
      outputs: ["q", "k", "v"],
      attributes: { axis: attr.int(2) },
    }) as [string, string, string];
    const headShape = this.shared("head_shape", (name) => g.int64s(name, [0, 0, heads, headWidth]));
    const split = (x: string, perm: number[]) =>
      g.node("Transpose", [g.node("Reshape", [x, headShape])], {
        attributes: { perm: attr.ints(perm) },
      });
    const scale = this.shared("scale", (name) => g.floats(name, [], [1 / Math.sqrt(headWidth)]));
    const scaled = g.node("Mul", [q, scale]);
    const qHeads = split(scaled, [0, 2, 1, 3]); // [b, heads, t, hw]
    const kHeadsT = split(k, [0, 2, 3, 1]); // [b, heads, hw, t]
    const vHeads = split(v, [0, 2, 1, 3]); // [b, heads, t, hw]
    let scores = g.node("MatMul", [qHeads, kHeadsT]); // [b, heads, t, t]
    if (mask !== null) scores = g.node("Add", [scores, mask]);
    const weights = g.node("Softmax", [scores], { attributes: { axis: attr.int(-1) } });
    const mixed = g.node("Transpose", [g.node("MatMul", [weights, vHeads])], {
      attributes: { perm: attr.ints([0, 2, 1, 3]) },
    }); // [b, t, heads, hw]
    const widthShape = this.shared("width_shape", (name) => g.int64s(name, [0, 0, width]));
    const merged = g.node("Reshape", [mixed, widthShape]);
    return await this.linear(merged, index, "out");
  }

  /** One pre-LN residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
  async block(x: string, index: number, block: Block, mask: string | null): Promise<string> {
    const g = this.g;
    const prefix = `${this.encoder === "vision" ? "visual" : "text"}.blocks.${index}`;
    const attended = await this.attention(
      await this.layerNorm(x, block.ln1, `${prefix}.ln_1`),
      index,
      mask,
    );
    x = g.node("Add", [x, attended], { name: `${prefix}.attn_residual` });
    const fc = await this.linear(await this.layerNorm(x, block.ln2, `${prefix}.ln_2`), index, "fc");
    // QuickGELU: x * sigmoid(1.702 x).
    const gate = g.node("Sigmoid", [
      g.node("Mul", [fc, g.floats("alpha", [], [QUICK_GELU_ALPHA])]),
    ]);
    const hidden = g.node("Mul", [fc, gate]);
    return g.node("Add", [x, await this.linear(hidden, index, "proj")], {
      name: `${prefix}.mlp_residual`,
    });
  }

  async blocks(x: string, blocks: Block[], mask: string | null): Promise<string> {
    for (let index = 0; index < blocks.length; index++) {
      x = await this.block(x, index, blocks[index]!, mask);
    }
    return x;
  }

  finish(output: string, info: OnnxValueInfo): Uint8Array {
    this.g.output(output, info);
    return encodeOnnxModel({
      graph: this.g.build(),
      opset: ONNX_OPSET,
      irVersion: ONNX_IR_VERSION,
      producerName: "rankone",
      producerVersion: "1",
      docString: `${this.model.arch.name} ${this.encoder} encoder (OpenAI CLIP computation)`,
    });
  }
}

/**
 * The image encoder as `.onnx` bytes: `pixels` float32 `[batch, 3, size, size]` (normalised NCHW)
 * -> `image_embeds` float32 `[batch, embed]`.
 */
export async function imageEncoderOnnx(model: ClipModel): Promise<Uint8Array> {
  const { imageSize, patchSize, width } = model.arch.vision;
  const grid = imageSize / patchSize;
  const vision = model.vision;
  const tower = new TowerGraph(model, "vision");
  const g = tower.g;
  const pixels = g.input({
    name: IMAGE_INPUT,
    type: "float32",
    shape: ["batch", 3, imageSize, imageSize],
  });
  // The patch embedding is OpenAI's stride-p convolution without bias; the model keeps its
  // weight as [3 * p * p, width], rows in (channel, y, x) order: transposed, that is conv1's.
  const convWeight = g.floats(
    "visual.conv1.weight",
    [width, 3, patchSize, patchSize],
    await derived(() => vision.patchWeight.transpose()),
  );
  const patches = g.node("Conv", [pixels, convWeight], {
    attributes: {
      kernel_shape: attr.ints([patchSize, patchSize]),
      strides: attr.ints([patchSize, patchSize]),
    },
  }); // [b, width, grid, grid]
  const tokens = g.node("Transpose", [
    g.node("Reshape", [patches, g.int64s("patch_shape", [0, width, grid * grid])]),
  ], { attributes: { perm: attr.ints([0, 2, 1]) } }); // [b, g * g, width]
  // A zero row in front of the patches takes the class embedding from the positional table.
  const padded = g.node("Pad", [tokens, g.int64s("class_slot", [0, 1, 0, 0, 0, 0])]);
  const positions = await values(vision.positionalEmbedding); // [1 + g * g, width]
  const classEmbedding = await values(vision.classEmbedding); // [width]
  const withClass = Float32Array.from(positions);
  for (let i = 0; i < width; i++) withClass[i] = Math.fround(classEmbedding[i]! + positions[i]!);
  let x = g.node("Add", [
    padded,
    g.floats("visual.positional_embedding", [1 + grid * grid, width], withClass),
  ]);
  x = await tower.layerNorm(x, vision.lnPre, "visual.ln_pre");
  x = await tower.blocks(x, vision.blocks, null); // [b, 1 + g * g, width]
  const classToken = g.node("Gather", [x, g.int64s("class_index", [0], [])], {
    attributes: { axis: attr.int(1) },
  }); // [b, width]
  const normed = await tower.layerNorm(classToken, vision.lnPost, "visual.ln_post");
  const projected = g.node("MatMul", [
    normed,
    await tower.constant("visual.proj", vision.projection),
  ]);
  return tower.finish(projected, {
    name: IMAGE_OUTPUT,
    type: "float32",
    shape: ["batch", model.arch.embedDim],
  });
}

/**
 * The text encoder as `.onnx` bytes: `tokens` int32 `[batch, context]` -> `text_embeds` float32
 * `[batch, embed]`, pooled at each row's highest id (the end token).
 */
export async function textEncoderOnnx(model: ClipModel): Promise<Uint8Array> {
  const { contextLength, width } = model.arch.text;
  const text = model.text;
  const tower = new TowerGraph(model, "text");
  const g = tower.g;
  const tokens = g.input({ name: TEXT_INPUT, type: "int32", shape: ["batch", contextLength] });
  // Each row's end token: the highest id (ONNX ArgMax, like torch's, takes the first of tied
  // maxima).
  const endToken = g.node("ArgMax", [tokens], {
    attributes: { axis: attr.int(1), keepdims: attr.int(1) },
  }); // [b, 1] int64
  // Under the causal mask a token sees only those before it, so the end tokens' features depend
  // on the first `used` = max(end) + 1 positions alone: the rest are not computed (prompts are
  // ~10 of 77 tokens).
  const used = g.node("Add", [
    g.node("ReduceMax", [g.node("Reshape", [endToken, g.int64s("flat", [-1])])], {
      attributes: { keepdims: attr.int(1) },
    }),
    g.int64s("one", [1]),
  ]); // [1] int64
  const prefix = (x: string, axes: number[]) =>
    g.node("Slice", [
      x,
      g.int64s("starts", axes.map(() => 0)),
      axes.length === 1
        ? used
        : g.node("Concat", [used, used], { attributes: { axis: attr.int(0) } }),
      g.int64s("axes", axes),
    ]);
  const embedded = g.node("Gather", [
    await tower.constant("text.token_embedding", text.tokenEmbedding),
    prefix(tokens, [1]),
  ], { attributes: { axis: attr.int(0) } }); // [b, used, width]
  const positions = prefix(
    await tower.constant("text.positional_embedding", text.positionalEmbedding),
    [0],
  ); // [used, width]
  let x = g.node("Add", [embedded, positions]);
  const mask = prefix(await tower.constant("text.causal_mask", text.causalMask), [0, 1]);
  x = await tower.blocks(x, text.blocks, mask); // [b, used, width]
  // The end token's row, gathered along the tokens with the index broadcast over the width.
  const index = g.node("Expand", [
    g.node("Unsqueeze", [endToken, g.int64s("last_axis", [2])]),
    g.int64s("row_shape", [1, 1, width]),
  ]); // [b, 1, width]
  const pooled = g.node("Reshape", [
    g.node("GatherElements", [x, index], { attributes: { axis: attr.int(1) } }),
    g.int64s("pooled_shape", [0, width]),
  ]); // [b, width]
  const normed = await tower.layerNorm(pooled, text.lnFinal, "text.ln_final");
  const projected = g.node("MatMul", [normed, await tower.constant("text.proj", text.projection)]);
  return tower.finish(projected, {
    name: TEXT_OUTPUT,
    type: "float32",
    shape: ["batch", model.arch.embedDim],
  });
}
