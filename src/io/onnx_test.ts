import assert from "node:assert/strict";
import { attr, encodeOnnxModel, OnnxGraphBuilder } from "./onnx.ts";

/** y = LayerNorm(x · W + b) * 2 over a dynamic batch; W, b and the gain are initializers. */
function tinyModel() {
  const g = new OnnxGraphBuilder("tiny");
  const x = g.input({ name: "x", type: "float32", shape: ["batch", 3] });
  const w = g.floats("w", [3, 2], [1, 2, 3, 4, 5, 6]);
  const b = g.floats("b", [2], [0.5, -0.5]);
  const affine = g.node("Add", [g.node("MatMul", [x, w]), b]);
  const normed = g.node("LayerNormalization", [affine, g.floats("gain", [2], [2, 2])], {
    attributes: { axis: attr.int(-1), epsilon: attr.float(1e-5) },
  });
  const [first, second] = g.nodeOutputs("Split", [normed, g.int64s("split", [1, 1])], {
    outputs: ["first", "second"],
    attributes: { axis: attr.int(1) },
  });
  g.output(first!, { name: "y0", type: "float32", shape: ["batch", 1] });
  g.output(second!, { name: "second", type: "float32", shape: ["batch", 1] });
  return encodeOnnxModel({
    graph: g.build(),
    opset: 17,
    irVersion: 8,
    producerName: "rankone-test",
    producerVersion: "0",
  });
}

Deno.test("encodeOnnxModel() writes a model ONNX Runtime loads and runs with the right values", async () => {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(tinyModel());
  try {
    assert.deepEqual(session.inputNames, ["x"]);
    assert.deepEqual(session.outputNames, ["y0", "second"]);
    const x = new ort.Tensor("float32", Float32Array.from([1, 0, 0, 0, 1, 1]), [2, 3]);
    const out = await session.run({ x });
    // Row 0: [1, 2] + b = [1.5, 1.5] -> normalised [0, 0]; row 1: [8, 10] + b = [8.5, 9.5] ->
    // [-1, 1] (times 1 / sqrt(0.25 + 1e-5)) * 2.
    const scale = 2 * 0.5 / Math.sqrt(0.25 + 1e-5);
    assert.deepEqual([...out.y0!.data as Float32Array], [0, Math.fround(-scale)]);
    assert.deepEqual([...out.second!.data as Float32Array], [0, Math.fround(scale)]);
    assert.deepEqual(out.y0!.dims, [2, 1]);
  } finally {
    await session.release();
  }
});

Deno.test("OnnxGraphBuilder names values uniquely and rejects tensors whose data does not fit", () => {
  const g = new OnnxGraphBuilder("names");
  const x = g.input({ name: "x", type: "float32", shape: [1] });
  const a = g.node("Relu", [x]);
  const b = g.node("Relu", [a]);
  assert.deepEqual([a, b], ["relu", "relu_1"]);
  assert.throws(() => g.input({ name: "x", type: "float32", shape: [1] }), /"x" is already used/);
  g.floats("w", [2, 2], [1, 2, 3]);
  assert.throws(
    () =>
      encodeOnnxModel({
        graph: g.build(),
        opset: 17,
        irVersion: 8,
        producerName: "t",
        producerVersion: "0",
      }),
    /ONNX tensor "w": 3 values for dims \[2, 2\]/,
  );
});
