import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { listArchPresets, loadArchPreset, parseArchPreset } from "./presets.ts";
import { inspectWeights } from "./weights_header.ts";

// ViT-B-16's numbers are checked where they matter: src/method/params_test.ts counts OpenAI CLIP
// ViT-B/16's 149,620,737 parameters from the preset.

Deno.test(
  "loadArchPreset('clip-tiny') is the architecture read from the shared tiny CLIP's weights",
  needsShared("fixtures/clip-tiny/hf"),
  async () => {
    for (const layout of ["hf", "openai"]) {
      const { arch } = await inspectWeights(sharedPath(`fixtures/clip-tiny/${layout}`)!);
      assert.deepEqual({ ...loadArchPreset("clip-tiny"), name: arch.name }, arch, layout);
    }
    assert.ok(listArchPresets().includes("clip-tiny"));
  },
);

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
