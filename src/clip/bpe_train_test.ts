import assert from "node:assert/strict";
import { learnMerges, writeByteLevelTokenizer } from "./bpe_train.ts";
import { loadTokenizer } from "./tokenizer_files.ts";

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
