/**
 * CLIP's byte-level BPE tokenizer, as OpenAI's `clip/simple_tokenizer.py` and open_clip's
 * `tokenizer.py` define it: clean the text, lower-case it, split it with CLIP's regex, map each
 * piece's UTF-8 bytes to printable characters (`bytes_to_unicode`), mark the end of each word with
 * `</w>`, apply merges by rank, and look the symbols up in the vocabulary.
 *
 * Text cleaning follows `basic_clean` + `whitespace_clean`. `ftfy.fix_text` is approximated by the
 * steps that change ordinary text: HTML unescape (when the text has no `<`), terminal escapes
 * removed, Latin ligatures and full-width characters replaced, curly quotes straightened, control
 * characters removed, NFC normalisation. Known gap: ftfy's mojibake repair (`fix_encoding`, e.g.
 * `"cafÃ©"` -> `"café"`) is not reproduced, so doubly-encoded UTF-8 tokenizes as written. Unicode
 * property tables (`\p{L}`, `\p{N}`) are the JavaScript engine's, which may differ from Python's
 * `regex` module for characters added in recent Unicode versions.
 *
 * Three on-disk formats load (see `loadTokenizer`): Hugging Face `tokenizer.json`, `vocab.json` +
 * `merges.txt`, and OpenAI's `bpe_simple_vocab_16e6.txt.gz`.
 */
import { gunzipSync } from "node:zlib";
import { decodeHTML } from "entities";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";

export const START_OF_TEXT = "<|startoftext|>";
export const END_OF_TEXT = "<|endoftext|>";
const END_OF_WORD = "</w>";

/** OpenAI's vocabulary file and how many of its lines are merges (`simple_tokenizer.py`). */
export const OPENAI_BPE_FILE = "bpe_simple_vocab_16e6.txt.gz";
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

/** The accepted file sets, in the order they are looked for. */
export const TOKENIZER_FILE_SETS = [
  ["tokenizer.json"],
  ["vocab.json", "merges.txt"],
  [OPENAI_BPE_FILE],
] as const;

/**
 * `bytes_to_unicode()`: byte value -> a printable character. Printable Latin-1 bytes map to
 * themselves; the other 68 bytes map to U+0100 onwards, in byte order. Index = byte value.
 */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + extra++);
  }
  return table;
}

/**
 * The 256 byte symbols in the order OpenAI's vocabulary lists them (`list(bytes_to_unicode()
 * .values())`): the printable bytes first, then the remapped ones.
 */
function byteSymbolsInVocabOrder(): string[] {
  const table = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  return order.map((b) => table[b]!);
}

// CLIP's pre-tokenizer (simple_tokenizer.py), case-insensitive; `u` makes \p{..} available.
const TOKEN_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

// Python's `html.unescape` pattern: numeric references, or up to 32 name characters.
const CHARACTER_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

// Python's html._invalid_charrefs: C1 code points read as windows-1252, and NUL / CR.
const INVALID_CHARREFS: Record<number, string> = {
  0x00: "\ufffd",
  0x0d: "\r",
  0x80: "\u20ac",
  0x81: "\x81",
  0x82: "\u201a",
  0x83: "\u0192",
  0x84: "\u201e",
  0x85: "\u2026",
  0x86: "\u2020",
  0x87: "\u2021",
  0x88: "\u02c6",
  0x89: "\u2030",
  0x8a: "\u0160",
  0x8b: "\u2039",
  0x8c: "\u0152",
  0x8d: "\x8d",
  0x8e: "\u017d",
  0x8f: "\x8f",
  0x90: "\x90",
  0x91: "\u2018",
  0x92: "\u2019",
  0x93: "\u201c",
  0x94: "\u201d",
  0x95: "\u2022",
  0x96: "\u2013",
  0x97: "\u2014",
  0x98: "\u02dc",
  0x99: "\u2122",
  0x9a: "\u0161",
  0x9b: "\u203a",
  0x9c: "\u0153",
  0x9d: "\x9d",
  0x9e: "\u017e",
  0x9f: "\u0178",
};

/** Python's html._invalid_codepoints: numeric references to these decode to nothing. */
function isInvalidCodePoint(cp: number): boolean {
  return (cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** `html.unescape` from Python's standard library (HTML5 rules, longest named-reference prefix). */
export function unescapeHtml(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(CHARACTER_REFERENCE, (whole, reference: string) => {
    if (reference.startsWith("#")) {
      const hex = reference[1] === "x" || reference[1] === "X";
      const digits = reference.slice(hex ? 2 : 1).replace(/;$/, "");
      const cp = parseInt(digits, hex ? 16 : 10);
      const invalid = INVALID_CHARREFS[cp];
      if (invalid !== undefined) return invalid;
      if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return "\ufffd";
      if (isInvalidCodePoint(cp)) return "";
      return String.fromCodePoint(cp);
    }
    // Named references: the entities package implements the same HTML5 table and prefix rule.
    return decodeHTML(whole);
  });
}

// deno-lint-ignore no-control-regex -- ANSI escapes are what ftfy removes
const TERMINAL_ESCAPE = /\x1b\[[0-9;]*[a-zA-Z]/g;
const LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
const FULL_WIDTH = /[\u3000\uff01-\uffef]/g;
const SINGLE_CURLY_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_CURLY_QUOTE = /[\u201c-\u201f]/g;
// deno-lint-ignore no-control-regex -- ftfy.remove_control_chars, by design
const CONTROL_CHARACTERS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** The parts of `ftfy.fix_text` (default settings) that apply to text that is not mojibake. */
function fixText(text: string): string {
  let fixed = text;
  if (!fixed.includes("<")) fixed = unescapeHtml(fixed); // ftfy's unescape_html="auto"
  return fixed
    .replace(TERMINAL_ESCAPE, "")
    .replace(LIGATURES, (c) => c.normalize("NFKC"))
    .replace(FULL_WIDTH, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")))
    .replace(SINGLE_CURLY_QUOTE, "'")
    .replace(DOUBLE_CURLY_QUOTE, '"')
    .replace(CONTROL_CHARACTERS, "")
    .normalize("NFC");
}

/**
 * `whitespace_clean(basic_clean(text)).lower()`: the text exactly as CLIP's tokenizer splits it.
 */
export function cleanText(text: string): string {
  const basic = unescapeHtml(unescapeHtml(fixText(text)));
  return basic.replace(WHITESPACE_RUN, " ").trim().toLowerCase();
}

/** A merge: two adjacent symbols that become one. Lower rank = applied first. */
export type Merge = readonly [string, string];

export interface TokenizeOptions {
  /** Row length of the output; CLIP uses 77. */
  contextLength?: number;
}

export class ClipTokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly Merge[];
  readonly startId: number;
  readonly endId: number;
  /** Where the vocabulary came from, for error messages. */
  readonly source: string;
  readonly #ranks = new Map<string, number>(); // "first second" -> rank; symbols hold no space
  readonly #byteEncoder = bytesToUnicode();
  readonly #cache = new Map<string, string[]>();
  readonly #decoder: string[] = [];

  constructor(
    vocab: ReadonlyMap<string, number>,
    merges: readonly Merge[],
    options: { source: string },
  ) {
    this.vocab = vocab;
    this.merges = merges;
    this.source = options.source;
    // A repeated merge keeps its last rank, as `dict(zip(merges, range(len(merges))))` does.
    merges.forEach(([first, second], rank) => this.#ranks.set(`${first} ${second}`, rank));
    const startId = vocab.get(START_OF_TEXT);
    const endId = vocab.get(END_OF_TEXT);
    if (startId === undefined || endId === undefined) {
      throw new UserError(
        `Cannot load tokenizer from ${options.source}: the vocabulary lacks ` +
          `"${START_OF_TEXT}" or "${END_OF_TEXT}"`,
      );
    }
    this.startId = startId;
    this.endId = endId;
    for (const [symbol, id] of vocab) this.#decoder[id] = symbol;
    this.#cache.set(START_OF_TEXT, [START_OF_TEXT]);
    this.#cache.set(END_OF_TEXT, [END_OF_TEXT]);
  }

  /** Number of ids: one more than the highest id in the vocabulary. */
  get vocabSize(): number {
    return this.#decoder.length;
  }

  /** The BPE symbols of one pre-tokenized piece (already byte-encoded), `</w>` on the last. */
  #bpe(piece: string): string[] {
    const cached = this.#cache.get(piece);
    if (cached !== undefined) return cached;
    const chars = Array.from(piece);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
    while (word.length > 1) {
      // The adjacent pair with the lowest merge rank (first occurrence on ties of the same pair).
      let bestRank = Infinity;
      let bestFirst = "";
      let bestSecond = "";
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.#ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestFirst = word[i]!;
          bestSecond = word[i + 1]!;
        }
      }
      if (bestRank === Infinity) break;
      // Merge every non-overlapping occurrence, left to right, as simple_tokenizer does.
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i < word.length - 1 && word[i] === bestFirst && word[i + 1] === bestSecond) {
          merged.push(bestFirst + bestSecond);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    this.#cache.set(piece, word);
    return word;
  }

  /** Token ids of `text`, without start / end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    const utf8 = new TextEncoder();
    for (const match of cleanText(text).matchAll(TOKEN_PATTERN)) {
      const piece = match[0];
      const encoded = piece === START_OF_TEXT || piece === END_OF_TEXT
        ? piece
        : Array.from(utf8.encode(piece), (byte) => this.#byteEncoder[byte]!).join("");
      for (const symbol of this.#bpe(encoded)) {
        const id = this.vocab.get(symbol);
        if (id === undefined) {
          throw new UserError(
            `Cannot tokenize ${JSON.stringify(text)} with ${this.source}: ` +
              `symbol ${JSON.stringify(symbol)} is not in the vocabulary`,
          );
        }
        ids.push(id);
      }
    }
    return ids;
  }

  /** Text of `ids` (start / end / padding dropped), as simple_tokenizer's decode gives it. */
  decode(ids: Iterable<number>): string {
    const byteOf = new Map(this.#byteEncoder.map((char, byte) => [char, byte]));
    const symbols: string[] = [];
    for (const id of ids) {
      if (id === this.startId || id === this.endId || id === 0) continue;
      symbols.push(this.#decoder[id] ?? "");
    }
    const bytes = Array.from(symbols.join(""), (char) => byteOf.get(char) ?? 0x3f);
    return new TextDecoder().decode(new Uint8Array(bytes)).replaceAll(END_OF_WORD, " ");
  }

  /**
   * `clip.tokenize(texts, context_length, truncate=True)`: each row is the start id, the text's
   * ids and the end id, zero padded; a row that is too long is cut and its last id set to the end
   * id (as open_clip does). Returns Int32Array [texts.length, contextLength], row-major.
   */
  tokenize(texts: readonly string[], options: TokenizeOptions = {}): Int32Array {
    const contextLength = options.contextLength ?? 77;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new UserError(
        `Cannot tokenize: context length must be an integer >= 2, got ${contextLength}`,
      );
    }
    const rows = new Int32Array(texts.length * contextLength); // [texts, contextLength]
    texts.forEach((text, row) => {
      const ids = [this.startId, ...this.encode(text), this.endId];
      if (ids.length > contextLength) {
        ids.length = contextLength;
        ids[contextLength - 1] = this.endId;
      }
      rows.set(ids, row * contextLength);
    });
    return rows;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`Cannot load ${path}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
}

function vocabFromObject(value: unknown, where: string): Map<string, number> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`Cannot load ${where}: expected an object of symbol -> id`);
  }
  const vocab = new Map<string, number>();
  for (const [symbol, id] of Object.entries(value)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new UserError(`Cannot load ${where}: id of ${JSON.stringify(symbol)} is ${id}`);
    }
    vocab.set(symbol, id as number);
  }
  return vocab;
}

function parseMergeLine(line: string, where: string): Merge {
  const parts = line.trim().split(/ +/);
  if (parts.length !== 2) {
    throw new UserError(`Cannot load ${where}: merge ${JSON.stringify(line)} is not two symbols`);
  }
  return [parts[0]!, parts[1]!];
}

/** `merges.txt` lines: an optional `#version` header, then one `first second` per line. */
function mergesFromLines(lines: string[], where: string): Merge[] {
  return lines
    .filter((line, index) => line.trim() !== "" && !(index === 0 && line.startsWith("#version")))
    .map((line) => parseMergeLine(line, where));
}

async function loadTokenizerJson(path: string): Promise<ClipTokenizer> {
  const json = parseJson(await readText(path), path) as {
    model?: { type?: string; vocab?: unknown; merges?: unknown };
    added_tokens?: { id?: unknown; content?: unknown }[];
  };
  const model = json.model;
  if (model === undefined || model.vocab === undefined || !Array.isArray(model.merges)) {
    throw new UserError(`Cannot load ${path}: expected a BPE "model" with "vocab" and "merges"`);
  }
  const vocab = vocabFromObject(model.vocab, `${path} (model.vocab)`);
  for (const added of json.added_tokens ?? []) {
    if (typeof added.content === "string" && Number.isInteger(added.id)) {
      if (!vocab.has(added.content)) vocab.set(added.content, added.id as number);
    }
  }
  // Merges are "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (newer files).
  const merges = (model.merges as unknown[]).map((merge, index): Merge => {
    if (typeof merge === "string") return parseMergeLine(merge, `${path} (model.merges)`);
    if (Array.isArray(merge) && merge.length === 2 && merge.every((s) => typeof s === "string")) {
      return [merge[0] as string, merge[1] as string];
    }
    throw new UserError(`Cannot load ${path}: model.merges[${index}] is not a merge`);
  });
  return new ClipTokenizer(vocab, merges, { source: path });
}

async function loadVocabAndMerges(vocabPath: string, mergesPath: string): Promise<ClipTokenizer> {
  const vocab = vocabFromObject(parseJson(await readText(vocabPath), vocabPath), vocabPath);
  const merges = mergesFromLines((await readText(mergesPath)).split("\n"), mergesPath);
  return new ClipTokenizer(vocab, merges, { source: `${vocabPath} + merges.txt` });
}

/** The vocabulary simple_tokenizer builds from a merge list: bytes, bytes + `</w>`, merges. */
function vocabFromMerges(merges: readonly Merge[]): Map<string, number> {
  const symbols = byteSymbolsInVocabOrder();
  const all = [...symbols, ...symbols.map((s) => s + END_OF_WORD)];
  for (const [first, second] of merges) all.push(first + second);
  all.push(START_OF_TEXT, END_OF_TEXT);
  return new Map(all.map((symbol, id) => [symbol, id]));
}

async function loadOpenAiBpe(path: string): Promise<ClipTokenizer> {
  let text: string;
  try {
    text = new TextDecoder().decode(gunzipSync(await Deno.readFile(path)));
  } catch (error) {
    throw new UserError(`Cannot load ${path}: not a gzip text file (${(error as Error).message})`, {
      cause: error,
    });
  }
  // simple_tokenizer: merges = lines[1 : 49152 - 256 - 2 + 1]
  const lines = text.split("\n").slice(1, OPENAI_MERGE_COUNT + 1);
  const merges = lines.map((line) => parseMergeLine(line, path));
  return new ClipTokenizer(vocabFromMerges(merges), merges, { source: path });
}

/**
 * Loads the tokenizer in `dir`, which holds one of: `tokenizer.json` (Hugging Face),
 * `vocab.json` + `merges.txt`, or OpenAI's `bpe_simple_vocab_16e6.txt.gz` (looked for in that
 * order).
 */
export async function loadTokenizer(dir: string): Promise<ClipTokenizer> {
  const base = dir.endsWith("/") ? dir.slice(0, -1) : dir;
  if (await exists(`${base}/tokenizer.json`)) {
    return await loadTokenizerJson(`${base}/tokenizer.json`);
  }
  if ((await exists(`${base}/vocab.json`)) && (await exists(`${base}/merges.txt`))) {
    return await loadVocabAndMerges(`${base}/vocab.json`, `${base}/merges.txt`);
  }
  if (await exists(`${base}/${OPENAI_BPE_FILE}`)) {
    return await loadOpenAiBpe(`${base}/${OPENAI_BPE_FILE}`);
  }
  const sets = TOKENIZER_FILE_SETS.map((set) => set.join(" + ")).join(", or ");
  throw new UserError(`Cannot find a CLIP tokenizer in ${dir}: expected ${sets}`);
}

export type TokenizerFormat = "vocab-merges" | "tokenizer-json";

/**
 * Writes `tokenizer`'s vocabulary and merges to `dir` as `vocab.json` + `merges.txt` (default) or
 * as a Hugging Face-style `tokenizer.json` (model.vocab + model.merges only).
 */
export async function saveTokenizer(
  dir: string,
  tokenizer: ClipTokenizer,
  options: { format?: TokenizerFormat } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const vocab = Object.fromEntries(tokenizer.vocab);
  const utf8 = new TextEncoder();
  if (options.format === "tokenizer-json") {
    const json = {
      version: "1.0",
      added_tokens: [START_OF_TEXT, END_OF_TEXT].map((content) => ({
        id: tokenizer.vocab.get(content),
        content,
        special: true,
      })),
      model: {
        type: "BPE",
        end_of_word_suffix: END_OF_WORD,
        vocab,
        merges: tokenizer.merges.map(([first, second]) => `${first} ${second}`),
      },
    };
    await writeFileAtomic(`${dir}/tokenizer.json`, utf8.encode(JSON.stringify(json)));
    return;
  }
  const mergeLines = tokenizer.merges.map(([first, second]) => `${first} ${second}`);
  await writeFileAtomic(`${dir}/vocab.json`, utf8.encode(JSON.stringify(vocab)));
  await writeFileAtomic(
    `${dir}/merges.txt`,
    utf8.encode(["#version: 0.2", ...mergeLines].join("\n") + "\n"),
  );
}

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
  const byteEncoder = bytesToUnicode();
  const utf8 = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const match of cleanText(text).matchAll(TOKEN_PATTERN)) {
      const piece = match[0];
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) continue;
      const encoded = Array.from(utf8.encode(piece), (byte) => byteEncoder[byte]!).join("");
      wordCounts.set(encoded, (wordCounts.get(encoded) ?? 0) + 1);
    }
  }
  const words = [...wordCounts].map(([word, count]) => {
    const chars = Array.from(word);
    return { symbols: [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD], count };
  });
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
    for (const word of words) {
      const merged: string[] = [];
      for (let i = 0; i < word.symbols.length;) {
        if (word.symbols[i] === first && word.symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word.symbols[i]!);
          i += 1;
        }
      }
      word.symbols = merged;
    }
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
