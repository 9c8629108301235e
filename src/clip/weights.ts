/**
 * CLIP weights from a folder (or a .safetensors file) in either key layout:
 * - `hf`: Hugging Face `CLIPModel` (`model.safetensors` + `config.json`): `vision_model.encoder.
 *   layers.N.self_attn.q_proj.weight`, `text_model...`, `visual_projection.weight`, ...
 * - `openai`: OpenAI / open_clip state dicts saved as safetensors: `visual.conv1.weight`,
 *   `visual.transformer.resblocks.N.attn.in_proj_weight` (q, k, v fused), `transformer.
 *   resblocks.N...`, `token_embedding.weight`, `text_projection`, ...
 *
 * The architecture is read from tensor shapes (heads = width / 64 as OpenAI's build_model does,
 * or `num_attention_heads` from config.json). Every tensor's presence and shape is checked before
 * any data is read; errors name the file, the tensor and the expected shape.
 */
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { SafetensorsReader } from "../io/safetensors.ts";
import { type ClipArch, type EncoderName, LINEAR_TARGETS, linearName } from "./arch.ts";
import { buildModel, type ClipModel, parameterShapes } from "./model.ts";
import { listArchPresets, loadArchPreset } from "./presets.ts";

export type WeightLayout = "openai" | "hf";
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = ["openai", "hf"];

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

/** The .safetensors file of a model folder (or the file itself). */
async function findWeightsFile(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new UserError(`Cannot load model ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (info.isFile) return path;
  const candidates: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && entry.name.endsWith(".safetensors")) candidates.push(entry.name);
  }
  for (const preferred of ["model.safetensors", "open_clip_model.safetensors"]) {
    if (candidates.includes(preferred)) return `${path}/${preferred}`;
  }
  if (candidates.length === 1) return `${path}/${candidates[0]}`;
  throw new UserError(
    candidates.length === 0
      ? `Cannot load model ${path}: no .safetensors file in the folder (HF CLIPModel folders ` +
        `have model.safetensors; convert .bin / .pt checkpoints with safetensors' save_file)`
      : `Cannot load model ${path}: several .safetensors files (${candidates.join(", ")}); ` +
        `name one with --model`,
  );
}

function detectLayout(reader: SafetensorsReader): WeightLayout {
  if (reader.entries.has("visual.conv1.weight")) return "openai";
  if (reader.entries.has("vision_model.embeddings.patch_embedding.weight")) return "hf";
  throw new UserError(
    `Cannot load ${reader.path}: not a CLIP checkpoint (neither "visual.conv1.weight" (OpenAI ` +
      `layout) nor "vision_model.embeddings.patch_embedding.weight" (HF layout) is present)`,
  );
}

/** Distinct block indices under `prefix.N.` */
function countLayers(reader: SafetensorsReader, prefix: string): number {
  const pattern = new RegExp(`^${prefix.replaceAll(".", "\\.")}\\.(\\d+)\\.`);
  const indices = new Set<number>();
  for (const name of reader.entries.keys()) {
    const match = pattern.exec(name);
    if (match !== null) indices.add(Number(match[1]));
  }
  return indices.size;
}

async function readHeads(folder: string | null): Promise<{ vision?: number; text?: number }> {
  if (folder === null) return {};
  let text: string;
  try {
    text = await Deno.readTextFile(`${folder}/config.json`);
  } catch {
    return {};
  }
  try {
    const config = JSON.parse(text);
    return {
      vision: config?.vision_config?.num_attention_heads,
      text: config?.text_config?.num_attention_heads,
    };
  } catch (error) {
    throw new UserError(`Cannot load ${folder}/config.json: ${(error as Error).message}`);
  }
}

/** The preset whose numbers equal `arch`, so a real ViT-B/16 checkpoint is called ViT-B-16. */
function presetName(arch: Omit<ClipArch, "name">, fallback: string): string {
  for (const name of listArchPresets()) {
    const { name: _, ...preset } = loadArchPreset(name);
    if (JSON.stringify(preset) === JSON.stringify(arch)) return name;
  }
  return fallback;
}

/** The architecture, from the shapes of the tensors that define it. */
function archFromShapes(
  reader: SafetensorsReader,
  layout: WeightLayout,
  heads: { vision?: number; text?: number },
): ClipArch {
  const dims = (name: string): number[] => reader.entry(name).shape;
  const openai = layout === "openai";
  const conv = dims(
    openai ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight",
  );
  const visionPositions = dims(
    openai ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight",
  );
  const tokens = dims(
    openai ? "token_embedding.weight" : "text_model.embeddings.token_embedding.weight",
  );
  const textPositions = dims(
    openai ? "positional_embedding" : "text_model.embeddings.position_embedding.weight",
  );
  const projection = dims(openai ? "text_projection" : "text_projection.weight");
  const visionPrefix = openai ? "visual.transformer.resblocks" : "vision_model.encoder.layers";
  const textPrefix = openai ? "transformer.resblocks" : "text_model.encoder.layers";
  const fc = openai ? "mlp.c_fc.weight" : "mlp.fc1.weight";
  const visionWidth = conv[0]!;
  const patchSize = conv[2]!;
  const grid = Math.round(Math.sqrt((visionPositions[0] ?? 1) - 1));
  const textWidth = tokens[1]!;
  const arch = {
    embedDim: openai ? projection[1]! : projection[0]!,
    vision: {
      imageSize: grid * patchSize,
      patchSize,
      width: visionWidth,
      layers: countLayers(reader, visionPrefix),
      heads: heads.vision ?? Math.max(1, Math.round(visionWidth / 64)),
      mlpWidth: reader.entries.has(`${visionPrefix}.0.${fc}`)
        ? dims(`${visionPrefix}.0.${fc}`)[0]!
        : 4 * visionWidth,
    },
    text: {
      contextLength: textPositions[0]!,
      vocabSize: tokens[0]!,
      width: textWidth,
      layers: countLayers(reader, textPrefix),
      heads: heads.text ?? Math.max(1, Math.round(textWidth / 64)),
      mlpWidth: reader.entries.has(`${textPrefix}.0.${fc}`)
        ? dims(`${textPrefix}.0.${fc}`)[0]!
        : 4 * textWidth,
    },
  };
  const folderName = reader.path.split("/").slice(-2, -1)[0] ?? "clip";
  return { name: presetName(arch, folderName), ...arch };
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

export interface WeightsInfo {
  /** The .safetensors file read. */
  file: string;
  layout: WeightLayout;
  arch: ClipArch;
}

async function openWeights(
  path: string,
): Promise<{ reader: SafetensorsReader; info: WeightsInfo }> {
  const file = await findWeightsFile(path);
  const reader = await SafetensorsReader.open(file);
  try {
    const layout = detectLayout(reader);
    const folder = file === path ? null : path;
    const arch = archFromShapes(reader, layout, await readHeads(folder));
    return { reader, info: { file, layout, arch } };
  } catch (error) {
    reader.close();
    throw error;
  }
}

/** Layout and architecture of a model folder, reading only the file header. */
export async function inspectWeights(path: string): Promise<WeightsInfo> {
  const { reader, info } = await openWeights(path);
  reader.close();
  return info;
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
