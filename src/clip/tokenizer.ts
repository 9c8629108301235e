/**
 * CLIP's byte-level BPE tokenizer, as OpenAI's `clip/simple_tokenizer.py` and open_clip's
 * `tokenizer.py` define it: clean the text, lower-case it, split it with CLIP's regex, map each
 * piece's UTF-8 bytes to printable characters (`bytes_to_unicode`), mark the end of each word with
 * `</w>`, apply merges by rank, and look the symbols up in the vocabulary; `tokenize` gives CLIP's
 * fixed-length id rows. Text cleaning is tokenizer_text.ts, the byte symbols bpe.ts, the files a
 * tokenizer loads from and saves to tokenizer_files.ts, a tokenizer of our own bpe_train.ts.
 */
import { UserError } from "../errors.ts";
import {
  BYTE_SYMBOLS,
  bytePieces,
  END_OF_TEXT,
  END_OF_WORD,
  type Merge,
  mergePair,
  START_OF_TEXT,
  wordSymbols,
} from "./bpe.ts";

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
    let word = wordSymbols(piece);
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
      word = mergePair(word, bestFirst, bestSecond);
    }
    this.#cache.set(piece, word);
    return word;
  }

  /** Token ids of `text`, without start / end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const encoded of bytePieces(text)) {
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
    const byteOf = new Map(BYTE_SYMBOLS.map((char, byte) => [char, byte]));
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
