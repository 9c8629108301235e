/**
 * The files a CLIP tokenizer is read from and written to: Hugging Face `tokenizer.json`,
 * `vocab.json` + `merges.txt`, and OpenAI's `bpe_simple_vocab_16e6.txt.gz` (`loadTokenizer` looks
 * for them in that order); `saveTokenizer` writes either of the first two.
 */
import { gunzipSync } from "node:zlib";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { END_OF_TEXT, END_OF_WORD, type Merge, START_OF_TEXT, vocabFromMerges } from "./bpe.ts";
import { ClipTokenizer } from "./tokenizer.ts";

/** OpenAI's vocabulary file and how many of its lines are merges (`simple_tokenizer.py`). */
export const OPENAI_BPE_FILE = "bpe_simple_vocab_16e6.txt.gz";
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

/** The accepted file sets, in the order they are looked for. */
export const TOKENIZER_FILE_SETS = [
  ["tokenizer.json"],
  ["vocab.json", "merges.txt"],
  [OPENAI_BPE_FILE],
] as const;

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

export function parseMergeLine(line: string, where: string): Merge {
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
