import assert from "node:assert/strict";
import { main as encodeBench } from "./encode.ts";
import { main as benchMain } from "./main.ts";

Deno.test("bench/encode --quick writes matmul GFLOP/s and images/s, texts/s per backend", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/encode.json`;
    assert.equal(await encodeBench(["--quick", "--backends", "cpu", "--out", out]), 0);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.bench, "encode");
    assert.equal(report.quick, true);
    assert.equal(report.matmul.length, 1);
    assert.equal(report.matmul[0].backend, "cpu");
    assert.ok(report.matmul[0].gflops > 0);
    assert.deepEqual(
      report.encode.map((r: { arch: string; backend: string }) => `${r.backend}/${r.arch}`),
      ["cpu/clip-tiny"],
    );
    assert.ok(report.encode[0].imagesPerSecond > 0 && report.encode[0].textsPerSecond > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bench rejects unknown benchmarks and flags with exit code 2", async () => {
  assert.equal(await benchMain(["nonexistent"]), 2);
  assert.equal(await benchMain(["--fast"]), 2);
  assert.equal(await encodeBench(["--backends", "tpu"]), 2);
});
