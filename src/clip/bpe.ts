/**
 * CLIP's byte-level BPE symbols, shared by the tokenizer (tokenizer.ts) and by merge learning
 * (bpe_train.ts): the pre-tokenizer (cleaned text split with CLIP's regex, each piece's UTF-8
 * bytes mapped to printable characters by `bytes_to_unicode`), a word's symbols with `</w>` on the
 * last, one merge applied to a word, and the vocabulary `simple_tokenizer.py` builds from a merge
 * list. Unicode property tables (`\p{L}`, `\p{N}`) are the JavaScript engine's, which may differ
 * from Python's `regex` module for characters added in recent Unicode versions.
 */
import { cleanText } from "./tokenizer_text.ts";

export const START_OF_TEXT = "<|startoftext|>";
export const END_OF_TEXT = "<|endoftext|>";
/** Marks the last symbol of a word. */
export const END_OF_WORD = "</w>";

/** A merge: two adjacent symbols that become one. Lower rank = applied first. */
export type Merge = readonly [string, string];

/**
 * `bytes_to_unicode()`: byte value -> a printable character. Printable Latin-1 bytes map to
 * themselves; the other 68 bytes map to U+0100 onwards, in byte order. Index = byte value.
 */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  for (const b of printableBytes()) table[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + extra++);
  }
  return table;
}

/** The bytes `bytes_to_unicode` maps to themselves, ascending. */
function printableBytes(): number[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  return printable;
}

/** byte value -> its symbol (`bytesToUnicode()`), built once. */
export const BYTE_SYMBOLS: readonly string[] = bytesToUnicode();

/**
 * The 256 byte symbols in the order OpenAI's vocabulary lists them (`list(bytes_to_unicode()
 * .values())`): the printable bytes first, then the remapped ones.
 */
function byteSymbolsInVocabOrder(): string[] {
  const order = printableBytes();
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  return order.map((b) => BYTE_SYMBOLS[b]!);
}

// CLIP's pre-tokenizer (simple_tokenizer.py), case-insensitive; `u` makes \p{..} available.
const TOKEN_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/**
 * The pieces CLIP splits `text` into, cleaned (`cleanText`), each as its UTF-8 bytes' symbols
 * joined; the special tokens `<|startoftext|>` and `<|endoftext|>` come through as written.
 */
export function bytePieces(text: string): string[] {
  const utf8 = new TextEncoder();
  return Array.from(cleanText(text).matchAll(TOKEN_PATTERN), (match) => {
    const piece = match[0];
    return piece === START_OF_TEXT || piece === END_OF_TEXT
      ? piece
      : Array.from(utf8.encode(piece), (byte) => BYTE_SYMBOLS[byte]!).join("");
  });
}

/** A byte-encoded piece as BPE starts from it: one symbol per character, `</w>` on the last. */
export function wordSymbols(piece: string): string[] {
  const chars = Array.from(piece);
  return [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
}

/**
 * `symbols` with every non-overlapping occurrence of the pair (`first`, `second`) merged into one
 * symbol, left to right, as simple_tokenizer's `bpe` does.
 */
export function mergePair(symbols: readonly string[], first: string, second: string): string[] {
  const merged: string[] = [];
  for (let i = 0; i < symbols.length;) {
    if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
      merged.push(first + second);
      i += 2;
    } else {
      merged.push(symbols[i]!);
      i += 1;
    }
  }
  return merged;
}

/** The vocabulary simple_tokenizer builds from a merge list: bytes, bytes + `</w>`, merges. */
export function vocabFromMerges(merges: readonly Merge[]): Map<string, number> {
  const symbols = byteSymbolsInVocabOrder();
  const all = [...symbols, ...symbols.map((s) => s + END_OF_WORD)];
  for (const [first, second] of merges) all.push(first + second);
  all.push(START_OF_TEXT, END_OF_TEXT);
  return new Map(all.map((symbol, id) => [symbol, id]));
}
