/**
 * CLIP architecture, derived from a model config, a `configs/models/*.yaml` preset or the shapes of
 * a weights file. Everything the model code needs to build itself comes from here.
 */
export interface VisionArch {
  imageSize: number; // 224 for ViT-B/16
  patchSize: number; // 16
  width: number; // 768
  layers: number; // 12
  heads: number; // width / 64 as in OpenAI's build_model
  mlpWidth: number; // 4 * width
}

export interface TextArch {
  contextLength: number; // 77
  vocabSize: number; // 49408
  width: number; // 512
  layers: number; // 12
  heads: number; // 8
  mlpWidth: number; // 4 * width
}

export interface ClipArch {
  name: string;
  embedDim: number; // 512: the shared image/text space
  vision: VisionArch;
  text: TextArch;
}

export type EncoderName = "vision" | "text";
/** The adapted linears of a block, in the order the method lists them. */
export const LINEAR_TARGETS = ["q", "k", "v", "out", "fc", "proj"] as const;
export type LinearTarget = typeof LINEAR_TARGETS[number];

/** `visual.blocks.3.attn.q`, `text.blocks.0.mlp.fc`: the name every adapter is keyed by. */
export function linearName(encoder: EncoderName, block: number, target: LinearTarget): string {
  const prefix = encoder === "vision" ? "visual" : "text";
  const group = target === "fc" || target === "proj" ? "mlp" : "attn";
  return `${prefix}.blocks.${block}.${group}.${target}`;
}

/** [d_in, d_out] of one adapted linear. */
export function linearShape(
  arch: ClipArch,
  encoder: EncoderName,
  target: LinearTarget,
): [number, number] {
  const { width, mlpWidth } = encoder === "vision" ? arch.vision : arch.text;
  if (target === "fc") return [width, mlpWidth];
  if (target === "proj") return [mlpWidth, width];
  return [width, width];
}
