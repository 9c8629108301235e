/**
 * A CLIP tokenizer of our own, for generated models that ship none: merges learned from texts
 * (the benchmark's prompts) the way BPE vocabularies are built, and the byte-level tokenizer they
 * define written as `vocab.json` + `merges.txt`.
 */
import {
  bytePieces,
  END_OF_TEXT,
  mergePair,
  START_OF_TEXT,
  vocabFromMerges,
  wordSymbols,
} from "./bpe.ts";
import { ClipTokenizer } from "./tokenizer.ts";
import { parseMergeLine, saveTokenizer } from "./tokenizer_files.ts";

/**
 * Learns `maxMerges` BPE merges from `texts` the way BPE vocabularies are built: pre-tokenize like
 * CLIP (clean, lower-case, the same pattern, bytes as symbols, `</w>` on a word's last symbol),
 * then repeatedly merge the most frequent adjacent pair (ties: the pair seen first). Returns
 * `"a b"` lines for `writeByteLevelTokenizer`. A tiny generated CLIP has a short context (20
 * for clip-tiny): with bytes alone a prompt like "a centered satellite photo of forest." would be
 * cut before the class name, so every class would read the same.
 */
export function learnMerges(
  texts: readonly string[],
  options: { maxMerges: number },
): string[] {
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of bytePieces(text)) {
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) continue;
      wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
    }
  }
  const words = [...wordCounts].map(([word, count]) => ({ symbols: wordSymbols(word), count }));
  const merges: string[] = [];
  while (merges.length < options.maxMerges) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i < symbols.length - 1; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [pair, count] of pairCounts) {
      if (count > bestCount) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === null) break;
    merges.push(best);
    const [first, second] = best.split(" ") as [string, string];
    for (const word of words) word.symbols = mergePair(word.symbols, first, second);
  }
  return merges;
}

/**
 * Writes a small self-made CLIP tokenizer (`vocab.json` + `merges.txt`) to `dir`: the 256 byte
 * symbols, the same with `</w>`, one id per merge (`"a b"` strings over byte symbols, e.g.
 * `"c a"`, `"ca t</w>"`), then `<|startoftext|>` and `<|endoftext|>` as the two highest ids. It
 * tokenizes any text, so a tiny generated CLIP (vocab 514 + merges) works offline.
 */
export async function writeByteLevelTokenizer(
  dir: string,
  options: { merges?: readonly string[] } = {},
): Promise<ClipTokenizer> {
  const merges = (options.merges ?? []).map((line) =>
    parseMergeLine(line, "writeByteLevelTokenizer")
  );
  const tokenizer = new ClipTokenizer(vocabFromMerges(merges), merges, { source: dir });
  await saveTokenizer(dir, tokenizer);
  return tokenizer;
}
