import assert from "node:assert/strict";
import { main as encodeBench } from "./encode.ts";
import { main as benchMain } from "./main.ts";

interface Row {
  engine: string;
  device: string;
  arch: string;
  imagesPerSecond: number;
  textsPerSecond: number;
  textsPerSecondFullContext: number;
  cpuSecondsPerImage: number;
}

Deno.test("bench/encode --quick writes matmul GFLOP/s, images/s, texts/s and CPU s per image per engine and device, and ORT's kernel time by operator", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/encode.json`;
    const args = ["--quick", "--backends", "cpu", "--engines", "tfjs,onnx", "--out", out];
    assert.equal(await encodeBench(args), 0);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.bench, "encode");
    assert.equal(report.quick, true);
    assert.deepEqual(
      report.matmul.map((r: { engine: string; device: string }) => `${r.engine}/${r.device}`),
      ["tfjs/cpu", "onnx/cpu"],
    );
    assert.ok(report.matmul.every((r: { gflops: number }) => r.gflops > 0));
    const rows = report.encode as Row[];
    assert.deepEqual(rows.map((r) => `${r.engine}/${r.device}/${r.arch}`), [
      "tfjs/cpu/clip-tiny",
      "onnx/cpu/clip-tiny",
    ]);
    for (const row of rows) {
      assert.ok(row.imagesPerSecond > 0 && row.textsPerSecond > 0);
      assert.ok(row.textsPerSecondFullContext > 0);
      assert.ok(row.cpuSecondsPerImage > 0);
    }
    // ORT's profile of the image graph: kernel time by operator, shares summing to 1.
    const [profile] = report.onnxProfile;
    assert.equal(profile.arch, "clip-tiny");
    const ops = profile.ops as { op: string; nodes: number; share: number }[];
    assert.ok(Math.abs(ops.reduce((sum, op) => sum + op.share, 0) - 1) < 1e-9);
    assert.equal(
      ops.find((op) => op.op === "LayerNormalization")?.nodes,
      2 * 2 + 2,
      "ln_1, ln_2 per block, ln_pre, ln_post",
    );
    assert.equal(report.onnxRuntime.devices.cpu, null);
    assert.equal(report.pytorch, null, "not asked for");
    assert.ok(report.ratios.onnxCpuOverTfjsWasm === null, "no wasm row to compare with");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bench rejects unknown benchmarks and flags with exit code 2", async () => {
  assert.equal(await benchMain(["nonexistent"]), 2);
  assert.equal(await benchMain(["--fast"]), 2);
  assert.equal(await encodeBench(["--backends", "tpu"]), 2);
  assert.equal(await encodeBench(["--engines", "tensorrt"]), 2);
});
