/**
 * `deno task tokenize --model DIR --strings FILE.json --out tokens.npy [--context-length 77]`:
 * CLIP token ids of a JSON array of strings, written as an int32 [N, context] .npy file. DIR holds
 * `tokenizer.json`, `vocab.json` + `merges.txt`, or OpenAI's `bpe_simple_vocab_16e6.txt.gz`.
 */
import { parseArgs } from "node:util";
import { loadTokenizer } from "../clip/tokenizer_files.ts";
import { UserError } from "../errors.ts";
import { writeNpy } from "../io/npy.ts";

const USAGE =
  "usage: deno task tokenize --model DIR --strings FILE.json --out tokens.npy [--context-length 77]";

async function readStrings(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UserError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError(`Cannot load ${path}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!Array.isArray(value)) throw new UserError(`Cannot load ${path}: expected a JSON array`);
  value.forEach((item, index) => {
    if (typeof item !== "string") {
      throw new UserError(
        `Cannot load ${path}: item ${index} is ${JSON.stringify(item)}, not a string`,
      );
    }
  });
  return value as string[];
}

export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        strings: { type: "string" },
        out: { type: "string" },
        "context-length": { type: "string", default: "77" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const missing = (["model", "strings", "out"] as const).filter((name) =>
    values[name] === undefined
  );
  if (missing.length > 0) {
    console.error(`missing ${missing.map((name) => `--${name}`).join(", ")}\n${USAGE}`);
    return 2;
  }
  const contextLength = Number(values["context-length"]);
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    console.error(
      `--context-length must be an integer >= 2, got "${values["context-length"]}"\n${USAGE}`,
    );
    return 2;
  }
  const tokenizer = await loadTokenizer(values.model!);
  const strings = await readStrings(values.strings!);
  const data = tokenizer.tokenize(strings, { contextLength });
  await writeNpy(values.out!, { dtype: "int32", shape: [strings.length, contextLength], data });
  console.log(
    `wrote ${values.out}: int32 [${strings.length}, ${contextLength}] from ${tokenizer.source}`,
  );
  return 0;
}
