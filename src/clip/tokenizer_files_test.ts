import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { writeByteLevelTokenizer } from "./bpe_train.ts";
import { loadTokenizer } from "./tokenizer_files.ts";

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
