import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { UserError } from "../errors.ts";
import { npyToInt32, readNpy } from "../io/npy.ts";
import {
  bytesToUnicode,
  cleanText,
  learnMerges,
  loadTokenizer,
  saveTokenizer,
  unescapeHtml,
  writeByteLevelTokenizer,
} from "./tokenizer.ts";

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

Deno.test("bytesToUnicode() maps printable bytes to themselves and the rest from U+0100", () => {
  const table = bytesToUnicode();
  assert.equal(new Set(table).size, 256);
  assert.equal(table[0x41], "A");
  assert.equal(table[0x20], "\u0120"); // space -> Ġ, as in GPT-2 / CLIP vocabularies
  assert.equal(table[0x00], "\u0100");
  assert.equal(table[0xad], "\u0143"); // the last remapped byte (soft hyphen)
});

Deno.test("cleanText() unescapes HTML twice, collapses whitespace, straightens quotes", () => {
  assert.equal(cleanText("  multiple   spaces\tand\ttabs  "), "multiple spaces and tabs");
  assert.equal(cleanText("a&amp;amp;b &lt;tag&gt;"), "a&b <tag>");
  assert.equal(cleanText("\u201cQuoted\u201d it\u2019s"), '"quoted" it\'s');
  assert.equal(cleanText("\ufb01sh \uff21\uff22"), "fish ab"); // ligature, full-width letters
  assert.equal(cleanText("cafe\u0301"), "caf\u00e9"); // NFC
  assert.equal(cleanText("\x1b[31mred\x1b[0m\u0007"), "red");
});

Deno.test("unescapeHtml() follows Python's html.unescape on numeric and legacy references", () => {
  assert.equal(unescapeHtml("&#65;&#x42;&#128;&#0;&#1;"), "AB\u20ac\ufffd");
  assert.equal(unescapeHtml("&ampx &notit; &eacute &bogus;"), "&x \u00acit; \u00e9 &bogus;");
});

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

Deno.test("writeByteLevelTokenizer() round-trips through vocab.json + merges.txt", async () => {
  const temp = await Deno.makeTempDir();
  try {
    const written = await writeByteLevelTokenizer(temp, { merges: ["c a", "ca t</w>", "d o"] });
    assert.equal(written.vocabSize, 512 + 3 + 2);
    assert.equal(written.startId, 515);
    assert.equal(written.endId, 516);
    const loaded = await loadTokenizer(temp);
    assert.equal(loaded.vocabSize, 517);
    // Merge ids follow the 512 byte symbols: "ca" 512, "cat</w>" 513, "do" 514. "Cat dog!" ->
    // "cat</w>", "do" + "g</w>" (256 + 70: g is the 71st printable byte), "!</w>" (256 + 0).
    assert.deepEqual(loaded.encode("Cat dog!"), [513, 514, 326, 256]);
    const rows = loaded.tokenize(["cat", "\u00e9"], { contextLength: 5 });
    // é is two UTF-8 bytes, C3 (vocab position 127 among printable bytes) and A9 (position 102,
    // with </w>: 256 + 102).
    assert.deepEqual(Array.from(rows), [515, 513, 516, 0, 0, 515, 127, 358, 516, 0]);
    assert.equal(loaded.decode(rows.subarray(5, 10)), "\u00e9 ");
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("loadTokenizer() on a folder without tokenizer files names the folder and the sets", async () => {
  const temp = await Deno.makeTempDir();
  try {
    await assert.rejects(() => loadTokenizer(temp), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, new RegExp(`Cannot find a CLIP tokenizer in ${temp}`));
      assert.match(error.message, /tokenizer\.json, or vocab\.json \+ merges\.txt, or bpe_simple/);
      return true;
    });
    await Deno.writeTextFile(`${temp}/tokenizer.json`, "{not json");
    await assert.rejects(() => loadTokenizer(temp), /tokenizer\.json: not valid JSON/);
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("tokenizer.json with [first, second] merge pairs loads like the string form", async () => {
  const temp = await Deno.makeTempDir();
  try {
    const written = await writeByteLevelTokenizer(`${temp}/base`, { merges: ["c a", "ca t</w>"] });
    const json = {
      model: {
        type: "BPE",
        vocab: Object.fromEntries(written.vocab),
        merges: written.merges.map(([first, second]) => [first, second]),
      },
    };
    await Deno.mkdir(`${temp}/pairs`);
    await Deno.writeTextFile(`${temp}/pairs/tokenizer.json`, JSON.stringify(json));
    const loaded = await loadTokenizer(`${temp}/pairs`);
    assert.deepEqual(loaded.encode("cat cat"), [513, 513]);
    assert.deepEqual(loaded.encode("cat"), written.encode("cat"));
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("learnMerges() makes the words of its texts single tokens of a byte-level tokenizer", async () => {
  const texts = ["a photo of a forest.", "a centered satellite photo of forest."];
  const merges = learnMerges(texts, { maxMerges: 200 });
  const dir = await Deno.makeTempDir();
  try {
    const tokenizer = await writeByteLevelTokenizer(dir, { merges });
    assert.equal(tokenizer.vocabSize, 514 + merges.length);
    // "a centered satellite photo of forest ." = 7 pieces, one id each.
    const ids = tokenizer.encode(texts[1]!);
    assert.equal(ids.length, 7);
    assert.equal(tokenizer.decode(ids).trim(), "a centered satellite photo of forest .");
    // The most frequent pair comes first: "o" + "f</w>"-like pairs occur in both texts.
    assert.equal(learnMerges(texts, { maxMerges: 3 }).length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
