import assert from "node:assert/strict";
import { learnMerges, writeByteLevelTokenizer } from "../../clip/bpe_train.ts";
import { loadArchPreset } from "../../clip/presets.ts";
import { SeededRng } from "../../io/rng.ts";
import { datasetInfo } from "../benchmark.ts";
import { CONCEPT_DOMAINS } from "./domains.ts";
import { poolCorpus, pretrainingPair } from "./pool.ts";

Deno.test("pretrainingPair() is a pure function of its generator's state", () => {
  const first = pretrainingPair(new SeededRng(9), 32);
  const again = pretrainingPair(new SeededRng(9), 32);
  assert.equal(first.pixels.length, 32 * 32 * 3);
  assert.deepEqual(first, again);
  assert.notDeepEqual(first, pretrainingPair(new SeededRng(10), 32));
});

Deno.test("with merges learned from the pool, every prompt and 2000 pretraining captions fit clip-tiny's 20 tokens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rankone-pool-tokenizer-" });
  try {
    const tokenizer = await writeByteLevelTokenizer(dir, {
      merges: learnMerges(poolCorpus(), { maxMerges: 4000 }),
    });
    const context = loadArchPreset("clip-tiny").text.contextLength;
    const length = (text: string) =>
      tokenizer.tokenize([text], { contextLength: 77 }).filter((id) => id !== 0).length;
    const prompts = CONCEPT_DOMAINS.flatMap((domain) =>
      datasetInfo(domain.dataset).templates.flatMap((template) =>
        domain.classes.map((concept) => template.replaceAll("{}", concept.name))
      )
    );
    const rng = new SeededRng(1);
    const captions = Array.from({ length: 2000 }, () => pretrainingPair(rng, 8).caption);
    const longest = [...prompts, ...captions].reduce((a, b) => length(a) >= length(b) ? a : b);
    assert.ok(length(longest) <= context, `"${longest}": ${length(longest)} tokens`);
    // Class names are whole words of the vocabulary: "primrose" is one token, not bytes.
    assert.equal(length("primrose"), 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
