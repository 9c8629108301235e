import assert from "node:assert/strict";
import sharp from "sharp";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { relativeError } from "../../tests/tolerance.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { writeSyntheticClip } from "../clip/synthetic.ts";
import { loadTokenizer } from "../clip/tokenizer_files.ts";
import { decodeImage, preprocessImage } from "../io/image.ts";
import { npyToFloat32, readNpy, writeNpy } from "../io/npy.ts";
import { main as cliMain } from "./main.ts";

const FIXTURE = "fixtures/clip-tiny";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function embeddings(path: string): Promise<{ shape: number[]; data: Float32Array }> {
  const array = await readNpy(path);
  assert.equal(array.dtype, "float32");
  return { shape: array.shape, data: npyToFloat32(array, path) };
}

Deno.test(
  "`encode --pixels --tokens` writes OpenAI's clip-tiny embeddings on every engine (float32, not normalised)",
  needsShared(FIXTURE),
  async () => {
    const root = sharedPath(FIXTURE)!;
    const expectedImage = npyToFloat32(await readNpy(`${root}/image_embeds.npy`), "image");
    const expectedText = npyToFloat32(await readNpy(`${root}/text_embeds.npy`), "text");
    for (const engine of ["onnx", "tfjs"]) {
      await withTempDir(async (out) => {
        const code = await cliMain([
          "encode",
          "--model",
          `${root}/hf`,
          "--pixels",
          `${root}/pixels.npy`,
          "--tokens",
          `${root}/tokens.npy`,
          "--out",
          out,
          "--engine",
          engine,
          "--backend",
          "wasm",
          "--batch-size",
          "2",
        ]);
        assert.equal(code, 0);
        const image = await embeddings(`${out}/image_embeds.npy`);
        const text = await embeddings(`${out}/text_embeds.npy`);
        assert.deepEqual(image.shape, [5, 48]);
        assert.deepEqual(text.shape, [4, 48]);
        assert.ok(relativeError(image.data, expectedImage) <= 1e-4, `${engine} image`);
        assert.ok(relativeError(text.data, expectedText) <= 1e-4, `${engine} text`);
      });
    }
  },
);

Deno.test("`encode --images a.png b.png` equals --pixels of CLIP's eval preprocessing", async () => {
  await withTempDir(async (dir) => {
    const arch = loadArchPreset("clip-tiny");
    await writeSyntheticClip(`${dir}/model`, arch, { layout: "openai", seed: 9 });
    const files = [`${dir}/a.png`, `${dir}/b.png`];
    const raw = { raw: { width: 40, height: 48, channels: 3 as const } };
    const gradient = Uint8Array.from({ length: 40 * 48 * 3 }, (_, i) => (i * 7) % 256);
    await sharp(gradient, raw).png().toFile(files[0]!);
    await sharp(gradient.map((v) => 255 - v), raw).png().toFile(files[1]!);
    const pixels = new Float32Array(2 * 3 * 32 * 32);
    for (let i = 0; i < 2; i++) {
      pixels.set(preprocessImage(await decodeImage(files[i]!), 32), i * 3 * 32 * 32);
    }
    await writeNpy(`${dir}/pixels.npy`, { dtype: "float32", shape: [2, 3, 32, 32], data: pixels });
    const common = ["encode", "--model", `${dir}/model`, "--backend", "cpu", "--out"];
    assert.equal(await cliMain([...common, `${dir}/from-files`, "--images", ...files]), 0);
    assert.equal(await cliMain([...common, `${dir}/from-npy`, "--pixels", `${dir}/pixels.npy`]), 0);
    const fromFiles = await embeddings(`${dir}/from-files/image_embeds.npy`);
    const fromNpy = await embeddings(`${dir}/from-npy/image_embeds.npy`);
    assert.deepEqual(fromFiles.shape, [2, 48]);
    assert.deepEqual(fromFiles.data, fromNpy.data);
  });
});

Deno.test(
  "`encode --text` tokenizes with the model folder's tokenizer, as --tokens of those ids",
  needsShared("fixtures/tokenizer"),
  async () => {
    await withTempDir(async (dir) => {
      const model = `${dir}/model`;
      const arch = loadArchPreset("clip-tiny");
      await writeSyntheticClip(model, arch, { layout: "hf", seed: 2, vocabSize: 49408 });
      const bpe = "bpe_simple_vocab_16e6.txt.gz";
      await Deno.copyFile(`${sharedPath("fixtures/tokenizer")}/${bpe}`, `${model}/${bpe}`);
      const texts = ["a photo of a cat.", "a dog"];
      const ids = (await loadTokenizer(model)).tokenize(texts, { contextLength: 20 });
      await writeNpy(`${dir}/tokens.npy`, { dtype: "int32", shape: [2, 20], data: ids });
      const common = ["encode", "--model", model, "--backend", "cpu", "--out"];
      assert.equal(await cliMain([...common, `${dir}/t`, "--text", ...texts]), 0);
      assert.equal(await cliMain([...common, `${dir}/i`, "--tokens", `${dir}/tokens.npy`]), 0);
      const fromText = await embeddings(`${dir}/t/text_embeds.npy`);
      assert.deepEqual(fromText.shape, [2, 48]);
      assert.deepEqual(fromText.data, (await embeddings(`${dir}/i/text_embeds.npy`)).data);
    });
  },
);

Deno.test("`encode` usage errors exit 2; bad inputs are errors naming the file", async () => {
  await withTempDir(async (dir) => {
    await writeSyntheticClip(`${dir}/model`, loadArchPreset("clip-tiny"), { layout: "openai" });
    const base = ["encode", "--model", `${dir}/model`, "--out", `${dir}/out`];
    assert.equal(await cliMain([...base, "--pixels", "p.npy", "--colour"]), 2);
    assert.equal(await cliMain(["encode", "--model", `${dir}/model`, "--pixels", "p.npy"]), 2);
    assert.equal(await cliMain([...base]), 2);
    assert.equal(await cliMain([...base, "stray.png"]), 2);
    assert.equal(await cliMain([...base, "--pixels", "p.npy", "--images", "a.png"]), 2);
    assert.equal(await cliMain([...base, "--pixels", "p.npy", "--backend", "tpu"]), 2);
    assert.equal(await cliMain([...base, "--pixels", "p.npy", "--engine", "ort"]), 2);
    assert.equal(await cliMain([...base, "--pixels", "p.npy", "--device", "gpu"]), 2);
    await writeNpy(`${dir}/wrong.npy`, {
      dtype: "float32",
      shape: [1, 3, 16, 16],
      data: new Float32Array(768),
    });
    assert.equal(await cliMain([...base, "--backend", "cpu", "--pixels", `${dir}/wrong.npy`]), 1);
    await writeNpy(`${dir}/ids.npy`, {
      dtype: "int64",
      shape: [1, 20],
      data: new BigInt64Array(20).fill(600n),
    });
    assert.equal(await cliMain([...base, "--backend", "cpu", "--tokens", `${dir}/ids.npy`]), 1);
    // An engine choice that cannot be honoured is a usage error, before anything is written.
    await writeNpy(`${dir}/good.npy`, {
      dtype: "float32",
      shape: [1, 3, 32, 32],
      data: new Float32Array(3072),
    });
    const good = ["--backend", "cpu", "--pixels", `${dir}/good.npy`];
    assert.equal(await cliMain([...base, ...good, "--engine", "tfjs", "--device", "cpu"]), 2);
    // Nothing was written for the failed runs.
    await assert.rejects(Deno.stat(`${dir}/out/image_embeds.npy`));
  });
});
