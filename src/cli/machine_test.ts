import assert from "node:assert/strict";
import { MACHINE_USAGE, machineProblem } from "./machine.ts";

Deno.test("machineProblem names the first machine flag that is not a known choice, absent ones are fine", () => {
  assert.equal(machineProblem({}), null);
  assert.equal(machineProblem({ backend: "wasm", engine: "onnx", device: "cuda" }), null);
  assert.equal(machineProblem({ backend: "tpu" }), "--backend tpu: unknown backend");
  assert.equal(
    machineProblem({ engine: "tensorrt", device: "npu" }),
    "--engine tensorrt: expected one of auto, onnx, tfjs",
  );
  assert.equal(
    machineProblem({ device: "npu" }),
    "--device npu: expected one of auto, cpu, webgpu, cuda",
  );
  assert.equal(
    MACHINE_USAGE,
    "[--backend auto|cpu|wasm|webgpu|tensorflow|tensorflow-gpu] [--engine auto|onnx|tfjs] " +
      "[--device auto|cpu|webgpu|cuda]",
  );
});
