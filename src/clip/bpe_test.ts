import assert from "node:assert/strict";
import {
  bytePieces,
  bytesToUnicode,
  END_OF_TEXT,
  mergePair,
  vocabFromMerges,
  wordSymbols,
} from "./bpe.ts";

Deno.test("bytesToUnicode() maps printable bytes to themselves and the rest from U+0100", () => {
  const table = bytesToUnicode();
  assert.equal(new Set(table).size, 256);
  assert.equal(table[0x41], "A");
  assert.equal(table[0x20], "\u0120"); // space -> Ġ, as in GPT-2 / CLIP vocabularies
  assert.equal(table[0x00], "\u0100");
  assert.equal(table[0xad], "\u0143"); // the last remapped byte (soft hyphen)
});

Deno.test("bytePieces() cleans, splits with CLIP's pattern and byte-encodes; special tokens pass", () => {
  // "é" is UTF-8 C3 A9: both printable Latin-1 bytes, so they map to "Ã" and "©".
  assert.deepEqual(bytePieces("  Café's  2 dogs!! <|endoftext|>"), [
    "caf\u00c3\u00a9",
    "'s",
    "2",
    "dogs",
    "!!",
    END_OF_TEXT,
  ]);
});

Deno.test("mergePair() merges non-overlapping pairs left to right; wordSymbols() marks the end", () => {
  assert.deepEqual(wordSymbols("aaa"), ["a", "a", "a</w>"]);
  assert.deepEqual(mergePair(["a", "a", "a", "a", "b"], "a", "a"), ["aa", "aa", "b"]);
  assert.deepEqual(mergePair(["a", "a", "a"], "a", "a"), ["aa", "a"]);
  assert.deepEqual(mergePair(["b", "a"], "a", "b"), ["b", "a"]);
});

Deno.test("vocabFromMerges() lists 256 bytes, 256 with </w>, the merges, then the two specials", () => {
  const vocab = vocabFromMerges([["c", "a"], ["ca", "t</w>"]]);
  assert.equal(vocab.size, 516);
  assert.equal(vocab.get("!"), 0); // the first printable byte
  assert.equal(vocab.get("!</w>"), 256);
  assert.equal(vocab.get("ca"), 512);
  assert.equal(vocab.get("cat</w>"), 513);
  assert.equal(vocab.get("<|startoftext|>"), 514);
  assert.equal(vocab.get(END_OF_TEXT), 515);
});
