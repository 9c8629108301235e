import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { listArchPresets, loadArchPreset, parseArchPreset } from "./presets.ts";

Deno.test("loadArchPreset('ViT-B-16') is the paper's backbone", () => {
  const arch = loadArchPreset("ViT-B-16");
  assert.deepEqual(arch, {
    name: "ViT-B-16",
    embedDim: 512,
    vision: { imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12, mlpWidth: 3072 },
    text: { contextLength: 77, vocabSize: 49408, width: 512, layers: 12, heads: 8, mlpWidth: 2048 },
  });
});

Deno.test("loadArchPreset('clip-tiny') matches the shared tiny fixture's shapes", () => {
  const arch = loadArchPreset("clip-tiny");
  assert.deepEqual(arch, {
    name: "clip-tiny",
    embedDim: 48,
    vision: { imageSize: 32, patchSize: 8, width: 128, layers: 2, heads: 2, mlpWidth: 512 },
    text: { contextLength: 20, vocabSize: 500, width: 64, layers: 2, heads: 1, mlpWidth: 256 },
  });
  assert.ok(listArchPresets().includes("clip-tiny"));
});

Deno.test("loadArchPreset() of an unknown name lists the known presets", () => {
  assert.throws(() => loadArchPreset("ViT-Z-99"), (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.match(error.message, /Unknown model architecture "ViT-Z-99".*ViT-B-16/);
    return true;
  });
});

Deno.test("parseArchPreset() rejects unknown keys, bad numbers and heads that do not divide", () => {
  const good = Deno.readTextFileSync(
    new URL("../../configs/models/clip-tiny.yaml", import.meta.url),
  );
  assert.throws(
    () => parseArchPreset(good.replace("layers: 2", "layerz: 2"), "m.yaml"),
    /m\.yaml: vision\.layerz: unknown key/,
  );
  assert.throws(
    () => parseArchPreset(good.replace("width: 128", "width: -1"), "m.yaml"),
    /vision\.width: expected a positive integer/,
  );
  assert.throws(
    () => parseArchPreset(good.replace("heads: 2", "heads: 3"), "m.yaml"),
    /vision width 128 is not divisible by 3 heads/,
  );
});
