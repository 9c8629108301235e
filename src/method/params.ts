/**
 * Trainable parameter counts from the architecture alone (no weights needed), as the paper's
 * efficiency table reports them: fp32 bytes / 2^20 = "MB".
 */
import type { ClipArch } from "../clip/arch.ts";
import { adapterModules } from "./modules.ts";
import { hasRouter, type MethodConfig } from "./config.ts";

export interface ParameterCount {
  /** Every trainable parameter. */
  total: number;
  /** LoRA A and B (or the backbone weights for full fine-tuning). */
  adapters: number;
  /** Router weights and biases. */
  routers: number;
}

/** fp32 megabytes (2^20 bytes), as PyTorch-side reports print them. */
export function parameterMegabytes(count: number): number {
  return (count * 4) / 2 ** 20;
}

/** Parameters of a whole CLIP (both encoders, projections, logit_scale), as OpenAI builds it. */
export function clipParameterCount(arch: ClipArch): number {
  const block = (width: number, mlpWidth: number): number =>
    4 * width + // ln_1, ln_2 (weight + bias)
    (3 * width * width + 3 * width) + // in_proj (q, k, v)
    (width * width + width) + // out_proj
    (width * mlpWidth + mlpWidth) + // c_fc
    (mlpWidth * width + width); // c_proj
  const { vision, text } = arch;
  const gridTokens = (vision.imageSize / vision.patchSize) ** 2 + 1;
  const visionCount = 3 * vision.patchSize ** 2 * vision.width + // conv1 (no bias)
    vision.width + // class_embedding
    gridTokens * vision.width + // positional_embedding
    2 * vision.width + // ln_pre
    vision.layers * block(vision.width, vision.mlpWidth) +
    2 * vision.width + // ln_post
    vision.width * arch.embedDim; // proj
  const textCount = text.vocabSize * text.width + // token_embedding
    text.contextLength * text.width + // positional_embedding
    text.layers * block(text.width, text.mlpWidth) +
    2 * text.width + // ln_final
    text.width * arch.embedDim; // text_projection
  return visionCount + textCount + 1; // + logit_scale
}

/**
 * Trainable parameters of `config` on `arch`. Expert pool: per adapted linear, A [r, d_in],
 * B [d_out, r] and, with a router, Linear(d_in, r) with bias. Full fine-tuning: the whole CLIP
 * (the 570.76 MB the paper quotes for ZSCL). Zero-shot: none.
 */
export function countTrainableParameters(arch: ClipArch, config: MethodConfig): ParameterCount {
  if (config.adapter === "none") return { total: 0, adapters: 0, routers: 0 };
  if (config.adapter === "full") {
    const total = clipParameterCount(arch);
    return { total, adapters: total, routers: 0 };
  }
  let adapters = 0;
  let routers = 0;
  for (const module of adapterModules(arch, config)) {
    adapters += config.rank * (module.dIn + module.dOut);
    if (hasRouter(config)) routers += config.rank * module.dIn + config.rank;
  }
  return { total: adapters + routers, adapters, routers };
}
