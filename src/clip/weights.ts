/**
 * CLIP weights loaded from a folder (or a .safetensors file) in either key layout (`hf`, `openai`:
 * see weights_header.ts, which reads the layout and architecture from the header), and how each
 * layout stores the canonical parameters. Every tensor's presence and shape is checked before
 * any data is read; errors name the file, the tensor and the expected shape.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { type Float32Tensor, type SafetensorsReader, writeSafetensors } from "../io/safetensors.ts";
import { type ClipArch, type EncoderName, LINEAR_TARGETS, linearName } from "./arch.ts";
import { buildModel, type ClipModel, parameterShapes } from "./model.ts";
import { openWeights, type WeightLayout, type WeightsInfo } from "./weights_header.ts";

/** ln(1 / 0.07): CLIP's initial logit scale (HF `logit_scale_init_value` 2.6592). */
export const INITIAL_LOGIT_SCALE = Math.log(1 / 0.07);

/** The part of one stored tensor that becomes one canonical parameter (see `parameterShapes`). */
export interface TensorPiece {
  canonical: string;
  /** Rows [start, end) of the stored tensor (OpenAI's fused in_proj holds q, k, v). */
  rows?: [number, number];
  /** Stored transposed relative to the canonical shape (HF's projections). */
  transposed?: boolean;
}

/** One tensor as a layout stores it. */
export interface StoredTensor {
  name: string;
  shape: number[];
  pieces: TensorPiece[];
}

const OPENAI_LINEARS = { out: "attn.out_proj", fc: "mlp.c_fc", proj: "mlp.c_proj" } as const;
const HF_LINEARS = {
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  out: "self_attn.out_proj",
  fc: "mlp.fc1",
  proj: "mlp.fc2",
} as const;

/** Every tensor a layout stores for `arch`, and how it maps onto canonical parameters. */
export function layoutTensors(arch: ClipArch, layout: WeightLayout): StoredTensor[] {
  const shapes = parameterShapes(arch);
  const stored: StoredTensor[] = [];
  const direct = (name: string, canonical: string) =>
    stored.push({ name, shape: shapes.get(canonical)!, pieces: [{ canonical }] });
  const transposed = (name: string, canonical: string) =>
    stored.push({
      name,
      shape: [...shapes.get(canonical)!].reverse(),
      pieces: [{ canonical, transposed: true }],
    });
  const blocks = (encoder: EncoderName, source: string, target: string, layers: number) => {
    for (let i = 0; i < layers; i++) {
      const from = `${source}.${i}`;
      const to = `${target}.blocks.${i}`;
      if (layout === "openai") {
        for (const norm of ["ln_1", "ln_2"]) {
          direct(`${from}.${norm}.weight`, `${to}.${norm}.weight`);
          direct(`${from}.${norm}.bias`, `${to}.${norm}.bias`);
        }
        const width = shapes.get(`${to}.ln_1.weight`)![0]!;
        for (const [suffix, part] of [["weight", "weight"], ["bias", "bias"]] as const) {
          stored.push({
            name: `${from}.attn.in_proj_${suffix}`,
            shape: part === "weight" ? [3 * width, width] : [3 * width],
            pieces: (["q", "k", "v"] as const).map((target, index) => ({
              canonical: `${linearName(encoder, i, target)}.${part}`,
              rows: [index * width, (index + 1) * width],
            })),
          });
        }
        for (const [targetName, sourceName] of Object.entries(OPENAI_LINEARS)) {
          const canonical = linearName(encoder, i, targetName as keyof typeof OPENAI_LINEARS);
          direct(`${from}.${sourceName}.weight`, `${canonical}.weight`);
          direct(`${from}.${sourceName}.bias`, `${canonical}.bias`);
        }
      } else {
        direct(`${from}.layer_norm1.weight`, `${to}.ln_1.weight`);
        direct(`${from}.layer_norm1.bias`, `${to}.ln_1.bias`);
        direct(`${from}.layer_norm2.weight`, `${to}.ln_2.weight`);
        direct(`${from}.layer_norm2.bias`, `${to}.ln_2.bias`);
        for (const target of LINEAR_TARGETS) {
          const canonical = linearName(encoder, i, target);
          direct(`${from}.${HF_LINEARS[target]}.weight`, `${canonical}.weight`);
          direct(`${from}.${HF_LINEARS[target]}.bias`, `${canonical}.bias`);
        }
      }
    }
  };
  if (layout === "openai") {
    for (const name of ["conv1.weight", "class_embedding", "positional_embedding"]) {
      direct(`visual.${name}`, `visual.${name}`);
    }
    direct("visual.ln_pre.weight", "visual.ln_pre.weight");
    direct("visual.ln_pre.bias", "visual.ln_pre.bias");
    blocks("vision", "visual.transformer.resblocks", "visual", arch.vision.layers);
    direct("visual.ln_post.weight", "visual.ln_post.weight");
    direct("visual.ln_post.bias", "visual.ln_post.bias");
    direct("visual.proj", "visual.proj");
    direct("token_embedding.weight", "text.token_embedding");
    direct("positional_embedding", "text.positional_embedding");
    blocks("text", "transformer.resblocks", "text", arch.text.layers);
    direct("ln_final.weight", "text.ln_final.weight");
    direct("ln_final.bias", "text.ln_final.bias");
    direct("text_projection", "text.proj");
  } else {
    const embeddings = "vision_model.embeddings";
    direct(`${embeddings}.patch_embedding.weight`, "visual.conv1.weight");
    direct(`${embeddings}.class_embedding`, "visual.class_embedding");
    direct(`${embeddings}.position_embedding.weight`, "visual.positional_embedding");
    direct("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"); // sic: HF's spelling
    direct("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias");
    blocks("vision", "vision_model.encoder.layers", "visual", arch.vision.layers);
    direct("vision_model.post_layernorm.weight", "visual.ln_post.weight");
    direct("vision_model.post_layernorm.bias", "visual.ln_post.bias");
    transposed("visual_projection.weight", "visual.proj");
    direct("text_model.embeddings.token_embedding.weight", "text.token_embedding");
    direct("text_model.embeddings.position_embedding.weight", "text.positional_embedding");
    blocks("text", "text_model.encoder.layers", "text", arch.text.layers);
    direct("text_model.final_layer_norm.weight", "text.ln_final.weight");
    direct("text_model.final_layer_norm.bias", "text.ln_final.bias");
    transposed("text_projection.weight", "text.proj");
  }
  direct("logit_scale", "logit_scale");
  return stored;
}

/** Checks every stored tensor's presence and shape before any data is read. */
function checkTensors(reader: SafetensorsReader, stored: StoredTensor[]): void {
  for (const tensor of stored) {
    const entry = reader.entries.get(tensor.name);
    if (entry === undefined) {
      throw new UserError(
        `Cannot load ${reader.path}: tensor "${tensor.name}" is missing (expected shape ` +
          `[${tensor.shape.join(", ")}])`,
      );
    }
    if (!tf.util.arraysEqual(entry.shape, tensor.shape)) {
      throw new UserError(
        `Cannot load ${reader.path}: tensor "${tensor.name}" has shape [${
          entry.shape.join(", ")
        }], expected [${tensor.shape.join(", ")}]`,
      );
    }
  }
}

/**
 * Loads a CLIP model from a folder (HF or OpenAI layout) or a .safetensors file on the current
 * tfjs backend. Each stored tensor is read once, turned into backend tensors, and dropped, so
 * host memory holds one tensor at a time beside the model.
 */
export async function loadClipModel(
  path: string,
): Promise<{ model: ClipModel; info: WeightsInfo }> {
  const { reader, info } = await openWeights(path);
  try {
    const stored = layoutTensors(info.arch, info.layout);
    checkTensors(reader, stored);
    const params = new Map<string, tf.Tensor>();
    try {
      for (const tensor of stored) {
        const { data } = await reader.readFloat32(tensor.name);
        for (const piece of tensor.pieces) {
          if (piece.rows !== undefined) {
            const rowWidth = tensor.shape.length === 1 ? 1 : tensor.shape[1]!;
            const [start, end] = piece.rows;
            const shape = tensor.shape.length === 1 ? [end - start] : [end - start, rowWidth];
            params.set(
              piece.canonical,
              tf.tensor(data.slice(start * rowWidth, end * rowWidth), shape),
            );
          } else if (piece.transposed) {
            const raw = tf.tensor(data, tensor.shape);
            params.set(piece.canonical, tf.transpose(raw));
            raw.dispose();
          } else {
            params.set(piece.canonical, tf.tensor(data, tensor.shape));
          }
        }
      }
      return { model: buildModel(info.arch, params), info };
    } catch (error) {
      tf.dispose([...params.values()]);
      throw error;
    }
  } finally {
    reader.close();
  }
}

/** The HF `CLIPModel` config.json for an architecture. */
function hfConfig(arch: ClipArch): Record<string, unknown> {
  const { vision, text } = arch;
  return {
    architectures: ["CLIPModel"],
    model_type: "clip",
    projection_dim: arch.embedDim,
    logit_scale_init_value: INITIAL_LOGIT_SCALE,
    vision_config: {
      hidden_size: vision.width,
      intermediate_size: vision.mlpWidth,
      num_hidden_layers: vision.layers,
      num_attention_heads: vision.heads,
      image_size: vision.imageSize,
      patch_size: vision.patchSize,
      hidden_act: "quick_gelu",
      layer_norm_eps: 1e-5,
      projection_dim: arch.embedDim,
    },
    text_config: {
      hidden_size: text.width,
      intermediate_size: text.mlpWidth,
      num_hidden_layers: text.layers,
      num_attention_heads: text.heads,
      max_position_embeddings: text.contextLength,
      vocab_size: text.vocabSize,
      hidden_act: "quick_gelu",
      layer_norm_eps: 1e-5,
      projection_dim: arch.embedDim,
    },
  };
}

/**
 * Writes canonical parameters (see `parameterShapes`) of architecture `arch` into folder `dir`
 * (created if needed) as `model.safetensors` in the given key layout, plus `config.json` for HF:
 * what `loadClipModel` reads back. Same parameters, same bytes.
 */
export async function writeClipWeights(
  dir: string,
  arch: ClipArch,
  params: ReadonlyMap<string, Float32Tensor>,
  options: { layout: WeightLayout },
): Promise<void> {
  const tensors = new Map<string, Float32Tensor>();
  for (const stored of layoutTensors(arch, options.layout)) {
    const count = stored.shape.reduce((product, dim) => product * dim, 1);
    const data = new Float32Array(count);
    for (const piece of stored.pieces) {
      const source = params.get(piece.canonical);
      if (source === undefined) throw new Error(`writeClipWeights: "${piece.canonical}" missing`);
      if (piece.rows !== undefined) {
        const rowWidth = stored.shape.length === 1 ? 1 : stored.shape[1]!;
        data.set(source.data, piece.rows[0] * rowWidth);
      } else if (piece.transposed) {
        // canonical [rows, cols] -> stored [cols, rows]
        const [rows, cols] = source.shape as [number, number];
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) data[c * rows + r] = source.data[r * cols + c]!;
        }
      } else {
        data.set(source.data);
      }
    }
    tensors.set(stored.name, { shape: stored.shape, data });
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, tensors, { metadata: { format: "pt" } });
  if (options.layout === "hf") {
    const config = `${JSON.stringify(hfConfig(arch), null, 1)}\n`;
    await writeFileAtomic(`${dir}/config.json`, new TextEncoder().encode(config));
  }
}
