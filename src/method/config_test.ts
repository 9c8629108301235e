import assert from "node:assert/strict";
import { methodConfigFromSettings, type MethodSettings } from "./config.ts";

const SETTINGS: MethodSettings = {
  name: "expert-pool",
  rank: 12,
  topK: 8,
  mergeTop: 4,
  alpha: 1,
  dropout: 0.2,
  ago: { weight: 0.1, critical: 4, past: "method" },
  targets: ["q", "k", "v", "out", "fc", "proj"],
  encoders: ["vision", "text"],
  blocks: "all",
};

Deno.test("methodConfigFromSettings() keeps the variant's AGO past columns unless the pipeline names them", () => {
  assert.equal(methodConfigFromSettings(SETTINGS).ago.past, "critical");
  assert.equal(
    methodConfigFromSettings({ ...SETTINGS, name: "ago-no-routing" }).ago.past,
    "all",
  );
  const released = methodConfigFromSettings({ ...SETTINGS, ago: { ...SETTINGS.ago, past: "all" } });
  assert.equal(released.ago.past, "all");
  assert.equal(released.ago.weight, 0.1);
  assert.equal(released.topK, 8);
});
