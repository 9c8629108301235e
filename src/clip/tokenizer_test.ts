import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { npyToInt32, readNpy } from "../io/npy.ts";
import { loadTokenizer, saveTokenizer } from "./tokenizer_files.ts";

const FIXTURE = "fixtures/tokenizer/";

async function fixture(): Promise<{ strings: string[]; expected: Int32Array; shape: number[] }> {
  const dir = sharedPath(FIXTURE)!;
  const strings = JSON.parse(await Deno.readTextFile(`${dir}strings.json`)) as string[];
  const array = await readNpy(`${dir}tokens.npy`);
  return { strings, expected: npyToInt32(array, "tokens.npy"), shape: array.shape };
}

function differingRows(actual: Int32Array, expected: Int32Array, width: number): number[] {
  const rows: number[] = [];
  for (let row = 0; row * width < expected.length; row++) {
    const a = actual.subarray(row * width, (row + 1) * width);
    const e = expected.subarray(row * width, (row + 1) * width);
    if (a.some((id, i) => id !== e[i])) rows.push(row);
  }
  return rows;
}

Deno.test(
  "the OpenAI .gz vocabulary reproduces OpenAI's ids for all 70 fixture strings",
  needsShared(FIXTURE),
  async () => {
    const { strings, expected, shape } = await fixture();
    assert.deepEqual(shape, [70, 77]);
    const tokenizer = await loadTokenizer(sharedPath(FIXTURE)!);
    assert.equal(tokenizer.startId, 49406);
    assert.equal(tokenizer.endId, 49407);
    assert.equal(tokenizer.vocabSize, 49408);
    const actual = tokenizer.tokenize(strings, { contextLength: 77 });
    assert.deepEqual(differingRows(actual, expected, 77), []);
  },
);

Deno.test(
  "vocab.json + merges.txt and tokenizer.json converted from the .gz give the same ids",
  needsShared(FIXTURE),
  async () => {
    const { strings, expected } = await fixture();
    const original = await loadTokenizer(sharedPath(FIXTURE)!);
    const temp = await Deno.makeTempDir();
    try {
      await saveTokenizer(`${temp}/hf-files`, original, { format: "vocab-merges" });
      await saveTokenizer(`${temp}/hf-json`, original, { format: "tokenizer-json" });
      for (const dir of [`${temp}/hf-files`, `${temp}/hf-json`]) {
        const converted = await loadTokenizer(dir);
        assert.equal(converted.vocabSize, 49408);
        assert.equal(converted.endId, 49407);
        const actual = converted.tokenize(strings);
        assert.deepEqual(differingRows(actual, expected, 77), [], dir);
      }
    } finally {
      await Deno.remove(temp, { recursive: true });
    }
  },
);

Deno.test(
  "tokenize() truncates long text keeping the end token last; decode() inverts encode()",
  needsShared(FIXTURE),
  async () => {
    const tokenizer = await loadTokenizer(sharedPath(FIXTURE)!);
    const rows = tokenizer.tokenize(["a photo of a golden retriever.", "long ".repeat(30)], {
      contextLength: 8,
    });
    assert.deepEqual(Array.from(rows.subarray(0, 8)), [
      49406,
      320,
      1125,
      539,
      320,
      3878,
      28394,
      49407,
    ]);
    assert.equal(rows[15], 49407);
    assert.ok(rows.subarray(9, 15).every((id) => id !== 0 && id !== 49407));
    const ids = tokenizer.encode("A photo of a café in Zürich!");
    assert.equal(tokenizer.decode(ids), "a photo of a café in zürich ! ");
  },
);
