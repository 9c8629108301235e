/**
 * What a CLIP weights folder (or a .safetensors file) holds, read from the safetensors header
 * alone: its key layout and its architecture. Nothing here touches tensor data, so planning a
 * pipeline learns a model's image size without loading a tensor library (weights.ts loads them).
 * - `hf`: Hugging Face `CLIPModel` (`model.safetensors` + `config.json`): `vision_model.encoder.
 *   layers.N.self_attn.q_proj.weight`, `text_model...`, `visual_projection.weight`, ...
 * - `openai`: OpenAI / open_clip state dicts saved as safetensors: `visual.conv1.weight`,
 *   `visual.transformer.resblocks.N.attn.in_proj_weight` (q, k, v fused), `transformer.
 *   resblocks.N...`, `token_embedding.weight`, `text_projection`, ...
 *
 * The architecture is read from tensor shapes (heads = width / 64 as OpenAI's build_model does,
 * or `num_attention_heads` from config.json).
 */
import { UserError } from "../errors.ts";
import { SafetensorsReader } from "../io/safetensors.ts";
import type { ClipArch } from "./arch.ts";
import { listArchPresets, loadArchPreset } from "./presets.ts";

export type WeightLayout = "openai" | "hf";
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = ["openai", "hf"];

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
  // What both towers read alike: blocks under `prefix`, heads, MLP width (4 x width by default).
  const tower = (prefix: string, width: number, headCount: number | undefined) => ({
    width,
    layers: countLayers(reader, prefix),
    heads: headCount ?? Math.max(1, Math.round(width / 64)),
    mlpWidth: reader.entries.has(`${prefix}.0.${fc}`) ? dims(`${prefix}.0.${fc}`)[0]! : 4 * width,
  });
  const arch = {
    embedDim: openai ? projection[1]! : projection[0]!,
    vision: {
      imageSize: grid * patchSize,
      patchSize,
      ...tower(visionPrefix, visionWidth, heads.vision),
    },
    text: {
      contextLength: textPositions[0]!,
      vocabSize: tokens[0]!,
      ...tower(textPrefix, textWidth, heads.text),
    },
  };
  const folderName = reader.path.split("/").slice(-2, -1)[0] ?? "clip";
  return { name: presetName(arch, folderName), ...arch };
}

export interface WeightsInfo {
  /** The .safetensors file read. */
  file: string;
  layout: WeightLayout;
  arch: ClipArch;
}

/**
 * The weights file, open, and what its header says; the caller closes the reader (a bad header
 * closes it here).
 */
export async function openWeights(
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
