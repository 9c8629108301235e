/**
 * The pipelines that reproduce published figures compute what produced them: AGO against all 12
 * B columns of every earlier task, as the authors' released code does (docs/method.md).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { methodConfigFromSettings } from "../src/method/config.ts";
import { compileSpec } from "../src/spec/mod.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENV = { CLIP_DIR: "/models/clip", MTIL_DATA: "/data/mtil" };

function runsOf(pipeline: string) {
  return compileSpec(`${REPO_ROOT}pipelines/${pipeline}.yaml`, { cwd: REPO_ROOT, env: ENV }).runs;
}

Deno.test("the paper-setting pipelines name ago.past: all, and their resolved method uses it", () => {
  for (const pipeline of ["mtil-order1-5shot", "mtil-order2-5shot", "mtil-order1-full"]) {
    const [run, ...others] = runsOf(pipeline);
    assert.equal(others.length, 0, pipeline);
    assert.equal(run!.method.name, "expert-pool", pipeline);
    assert.equal(run!.method.ago.past, "all", pipeline);
    const method = methodConfigFromSettings(run!.method);
    assert.deepEqual(
      { ...method.ago },
      { enabled: true, weight: 0.1, critical: 4, current: "critical", past: "all" },
      pipeline,
    );
  }
});

Deno.test("ablations.yaml runs each variant with its own AGO columns: all for expert-pool, the top 4 for expert-pool-ago-critical", () => {
  const past = Object.fromEntries(
    runsOf("ablations").map((run) => {
      const method = methodConfigFromSettings(run.method);
      return [run.method.name, method.ago.enabled ? method.ago.past : "off"];
    }),
  );
  assert.deepEqual(past, {
    "expert-pool": "all",
    "expert-pool-ago-critical": "critical",
    "expert-pool-no-ago": "off",
    "ago-no-routing": "all",
    "lora": "off",
    "expert-pool-trainable-router": "all",
  });
});
