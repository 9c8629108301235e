/**
 * The efficiency table counts trainable parameters exactly as `deno task params` prints them, for
 * every method of the ablations and baselines sweeps (full fine-tuning's whole CLIP included).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { main as params } from "../src/cli/params.ts";
import { loadArchPreset } from "../src/clip/presets.ts";
import { efficiencyTable, pipelineEfficiency, renderEfficiency } from "../src/mtil/efficiency.ts";
import { compileSpec } from "../src/spec/mod.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENV = { CLIP_DIR: "/models/clip", MTIL_DATA: "/data/mtil" };

/** `deno task params --arch ViT-B-16 --method <name> --json`, parsed. */
async function paramsCommand(method: string): Promise<{ reported: number; megabytes: number }> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (line: string) => printed.push(line);
  try {
    assert.equal(await params(["--arch", "ViT-B-16", "--method", method, "--json"]), 0);
  } finally {
    console.log = log;
  }
  return JSON.parse(printed[0]!);
}

Deno.test("the efficiency table's trainable parameters equal `deno task params` for every run of ablations.yaml and baselines.yaml", async () => {
  const arch = loadArchPreset("ViT-B-16");
  const counted: Record<string, number> = {};
  for (const pipeline of ["ablations", "baselines"]) {
    const { runs } = compileSpec(`${REPO_ROOT}pipelines/${pipeline}.yaml`, {
      cwd: REPO_ROOT,
      env: ENV,
    });
    const rows = runs.map((run) => pipelineEfficiency(run, { arch, trains: [], evaluations: [] }));
    for (const row of rows) {
      const command = await paramsCommand(row.method);
      assert.equal(row.parameters.trainable, command.reported, row.name);
      assert.equal(row.parameters.megabytes, command.megabytes, row.name);
      counted[row.method] = row.parameters.trainable;
    }
    // The ablations sweep trains no full fine-tuning: its table adds the whole CLIP's count; the
    // baselines' full fine-tuning run shows it in its own row.
    const md = renderEfficiency(efficiencyTable(rows), "md");
    const fullRow = pipeline === "ablations"
      ? "| Full fine-tuning (count) | 149,620,737 (570.76 MB) |"
      : "| baselines/method.name=full-finetune | 149,620,737 (570.76 MB) |";
    assert.ok(md.includes(fullRow), `${pipeline}:\n${md}`);
  }
  assert.deepEqual(counted, {
    "expert-pool": 4978368,
    "expert-pool-ago-critical": 4978368,
    "expert-pool-no-ago": 4978368,
    "ago-no-routing": 3317760, // every expert active: no router
    "lora": 3317760,
    "expert-pool-trainable-router": 4978368,
    "zero-shot": 0,
    "full-finetune": 149620737,
  });
});
