import assert from "node:assert/strict";
import { loadMethodConfig, methodConfigFromSettings, type MethodSettings } from "./config.ts";

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
  // The release's columns by default, for the method and every variant with AGO.
  for (const name of ["expert-pool", "ago-no-routing", "expert-pool-trainable-router"] as const) {
    assert.equal(methodConfigFromSettings({ ...SETTINGS, name }).ago.past, "all", name);
  }
  const described = methodConfigFromSettings({ ...SETTINGS, name: "expert-pool-ago-critical" });
  assert.equal(described.ago.past, "critical");
  assert.equal(described.ago.current, "critical");
  const named = methodConfigFromSettings({
    ...SETTINGS,
    ago: { ...SETTINGS.ago, past: "critical" },
  });
  assert.equal(named.ago.past, "critical");
  assert.equal(named.ago.weight, 0.1);
  assert.equal(named.topK, 8);
});

Deno.test("expert-pool-ago-critical differs from expert-pool in the AGO past columns only", () => {
  const released = loadMethodConfig("expert-pool");
  const described = loadMethodConfig("expert-pool-ago-critical");
  assert.deepEqual(
    { ...described, name: released.name, ago: { ...described.ago, past: "all" } },
    released,
  );
});
