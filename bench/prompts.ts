/** Prompt-like token rows for the benchmarks. */
import type { ClipArch } from "../src/clip/arch.ts";

/**
 * Where the end token of a training batch's longest prompt sits: the prompts of the MTIL datasets
 * whose class names the benchmark fixes end at positions 7 to 18 (OpenAI's tokenizer), so a batch
 * of 32 typically runs the text encoder on about 15 of the 77 positions.
 */
export const BATCH_PROMPT_END = 14;

/**
 * Token rows of the bench: start id, word ids, and the end id (the highest) at position `end`,
 * zero padding after it.
 */
export function tokenRows(arch: ClipArch, count: number, end: number): Int32Array {
  const { contextLength, vocabSize } = arch.text;
  const ids = new Int32Array(count * contextLength);
  for (let row = 0; row < count; row++) {
    const base = row * contextLength;
    ids[base] = vocabSize - 2;
    for (let i = 1; i < end; i++) ids[base + i] = 1 + ((row * 31 + i * 17) % (vocabSize - 3));
    ids[base + end] = vocabSize - 1;
  }
  return ids;
}
