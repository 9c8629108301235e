/**
 * Which linears of the backbone carry an adapter under a method config, in a fixed order (text
 * encoder first, then vision, as the release lists its LoRA layers; within a block q, k, v, out,
 * fc, proj). Everything keyed per module (adapters, counts, saved deltas) uses this order.
 */
import {
  type ClipArch,
  type EncoderName,
  LINEAR_TARGETS,
  linearName,
  linearShape,
  type LinearTarget,
} from "../clip/arch.ts";
import { adaptsBlock, type MethodConfig } from "./config.ts";

export interface AdaptedModule {
  /** e.g. `visual.blocks.3.attn.q` */
  name: string;
  encoder: EncoderName;
  block: number;
  target: LinearTarget;
  dIn: number;
  dOut: number;
}

const ENCODER_ORDER: readonly EncoderName[] = ["text", "vision"];

export function adapterModules(arch: ClipArch, config: MethodConfig): AdaptedModule[] {
  const modules: AdaptedModule[] = [];
  for (const encoder of ENCODER_ORDER) {
    if (!config.encoders.includes(encoder)) continue;
    const layers = encoder === "vision" ? arch.vision.layers : arch.text.layers;
    for (let block = 0; block < layers; block++) {
      if (!adaptsBlock(config, block)) continue;
      for (const target of LINEAR_TARGETS) {
        if (!config.targets.includes(target)) continue;
        const [dIn, dOut] = linearShape(arch, encoder, target);
        modules.push({
          name: linearName(encoder, block, target),
          encoder,
          block,
          target,
          dIn,
          dOut,
        });
      }
    }
  }
  return modules;
}
