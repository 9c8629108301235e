import assert from "node:assert/strict";
import { loadArchPreset } from "../clip/presets.ts";
import { UserError } from "../errors.ts";
import { main } from "../cli/params.ts";
import { loadMethodConfig, METHOD_PRESETS } from "./config.ts";
import { countTrainableParameters, parameterMegabytes } from "./params.ts";

Deno.test("ViT-B-16 + expert-pool trains 4,978,368 parameters (18.99 MB; 12.66 MB without routers)", () => {
  const count = countTrainableParameters(
    loadArchPreset("ViT-B-16"),
    loadMethodConfig("expert-pool"),
  );
  assert.equal(count.total, 4978368);
  assert.equal(parameterMegabytes(count.total).toFixed(2), "18.99");
  assert.equal(parameterMegabytes(count.total - count.routers).toFixed(2), "12.66");
});

Deno.test("full fine-tuning counts the whole CLIP ViT-B/16 (570.76 MB); zero-shot counts none", () => {
  const arch = loadArchPreset("ViT-B-16");
  const full = countTrainableParameters(arch, loadMethodConfig("full-finetune"));
  assert.equal(parameterMegabytes(full.total).toFixed(2), "570.76");
  assert.equal(countTrainableParameters(arch, loadMethodConfig("zero-shot")).total, 0);
  const lora = countTrainableParameters(arch, loadMethodConfig("lora"));
  assert.equal(lora.routers, 0);
  assert.equal(lora.total, 4978368 - 1660608);
});

Deno.test("every method preset loads, and a bad override names the key", () => {
  for (const name of METHOD_PRESETS) assert.equal(loadMethodConfig(name).name, name);
  assert.equal(loadMethodConfig("expert-pool-no-ago").ago.enabled, false);
  assert.equal(loadMethodConfig("ago-no-routing").routing, "all");
  assert.throws(
    () => loadMethodConfig("expert-pool", { top_k: 13 }),
    /method\.top_k: 13 exceeds rank 12/,
  );
  assert.throws(() => loadMethodConfig("expert-pool", { topk: 3 }), /unknown key "topk"/);
  assert.throws(() => loadMethodConfig("nope"), UserError);
});

Deno.test("deno task params prints one line; an unknown flag exits 2", async () => {
  const lines: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (line: string) => lines.push(line);
  console.error = () => {};
  try {
    assert.equal(await main(["--arch", "ViT-B-16", "--method", "expert-pool"]), 0);
    assert.equal(await main(["--arch", "ViT-B-16", "--bogus"]), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.deepEqual(lines, ["trainable parameters: 4978368 (18.99 MB)"]);
});
