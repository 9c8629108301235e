import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { UserError } from "../errors.ts";
import { availableBackends, installMatMulGradient, useBackend } from "./backend.ts";

const CASES = [[false, false], [false, true], [true, false], [true, true]] as const;
const [BATCH, ROWS, INNER, COLS] = [2, 3, 4, 5];

/** The three inputs of every case: a [2, 3, 4], b [2, 4, 5] and the loss weight w [2, 3, 5]. */
function matMulInputs(): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return [
    tf.randomNormal([BATCH, ROWS, INNER], 0, 1, "float32", 1),
    tf.randomNormal([BATCH, INNER, COLS], 0, 1, "float32", 2),
    tf.randomNormal([BATCH, ROWS, COLS], 0, 1, "float32", 3),
  ];
}

/**
 * Gradients of sum(matMul(x, y, tA, tB) * w) w.r.t. x and y, where x and y hold a and b stored
 * transposed when the flag is set, for all four transpose cases. Read with data(): WebGPU has no
 * synchronous reads.
 */
async function matMulGradients(): Promise<number[][][]> {
  const grads = tf.tidy(() => {
    const [a, b, weight] = matMulInputs();
    return CASES.map(([tA, tB]) => {
      const left = tA ? tf.transpose(a, [0, 2, 1]) : a;
      const right = tB ? tf.transpose(b, [0, 2, 1]) : b;
      return tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(x, y, tA, tB), weight))
      )([left, right]);
    });
  });
  const values = await Promise.all(
    grads.map((pair) => Promise.all(pair.map(async (g) => [...await g.data()]))),
  );
  tf.dispose(grads);
  return values;
}

/** [batch, rows, cols] nested arrays from a tensor's flat values. */
function nested(values: ArrayLike<number>, [batch, rows, cols]: number[]): number[][][] {
  return Array.from(
    { length: batch! },
    (_, n) =>
      Array.from(
        { length: rows! },
        (_, i) => Array.from({ length: cols! }, (_, j) => values[(n * rows! + i) * cols! + j]!),
      ),
  );
}

function transposed(x: number[][][]): number[][][] {
  return x.map((m) => m[0]!.map((_, j) => m.map((row) => row[j]!)));
}

/** Batched x · y in plain loops, flattened row-major. */
function loopMatMul(x: number[][][], y: number[][][]): number[] {
  return x.flatMap((m, n) =>
    m.flatMap((row) =>
      y[n]![0]!.map((_, j) => row.reduce((sum, value, k) => sum + value * y[n]![k]![j]!, 0))
    )
  );
}

/**
 * The same gradients in plain loops, independent of any registered gradient: the product is
 * always a b, so d/da = w bᵀ and d/db = aᵀ w, and their transposes (b wᵀ, wᵀ a) where the case
 * passed x or y transposed. The reference does not depend on which BatchMatMul gradient is
 * installed, so the test means the same whatever ran before it.
 */
async function referenceGradients(): Promise<number[][][]> {
  const inputs = matMulInputs();
  const [a, b, w] = await Promise.all(inputs.map(async (x) => nested(await x.data(), x.shape)));
  tf.dispose(inputs);
  return CASES.map(([tA, tB]) => [
    tA ? loopMatMul(b!, transposed(w!)) : loopMatMul(w!, transposed(b!)),
    tB ? loopMatMul(transposed(w!), a!) : loopMatMul(transposed(a!), w!),
  ]);
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
}

Deno.test("installMatMulGradient() gives the BatchMatMul gradients w bᵀ and aᵀ w in all 4 transpose cases", async () => {
  await tf.setBackend("cpu");
  installMatMulGradient();
  const reference = await referenceGradients();
  const gradients = await matMulGradients();
  for (let c = 0; c < CASES.length; c++) {
    for (let input = 0; input < 2; input++) {
      assert.ok(
        maxAbsDiff(reference[c]![input]!, gradients[c]![input]!) < 1e-5,
        `case ${c} input ${input}`,
      );
    }
  }
  const tensors = tf.memory().numTensors;
  await matMulGradients();
  assert.equal(tf.memory().numTensors, tensors);
});

Deno.test("useBackend() selects each available backend and matmul gradients agree with cpu", async () => {
  await useBackend("cpu");
  const reference = await matMulGradients();
  for (const backend of await availableBackends()) {
    assert.equal(await useBackend(backend), backend);
    assert.equal(tf.getBackend(), backend);
    const grads = await matMulGradients();
    for (let c = 0; c < CASES.length; c++) {
      for (let input = 0; input < 2; input++) {
        assert.ok(
          maxAbsDiff(reference[c]![input]!, grads[c]![input]!) < 1e-4,
          `${backend} case ${c}`,
        );
      }
    }
  }
  await useBackend("cpu");
});

Deno.test("useBackend('auto') picks a working backend, not cpu when wasm loads", async () => {
  const chosen = await useBackend("auto");
  assert.notEqual(chosen, "cpu");
  assert.equal(tf.getBackend(), chosen === "tensorflow-gpu" ? "tensorflow" : chosen);
  await useBackend("cpu");
});

Deno.test("useBackend('tensorflow') without tfjs-node says how to install it", {
  ignore: Deno.env.get("RANKONE_HAVE_TFJS_NODE") === "1",
}, async () => {
  await assert.rejects(useBackend("tensorflow"), (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.match(
      error.message,
      /needs @tensorflow\/tfjs-node with its native binding.*deno install/,
    );
    return true;
  });
  await useBackend("cpu");
});

/** availableBackends() in a child process whose WebGPU lookup finds nothing (Metal on Linux). */
async function backendsWithoutAdapter(env: Record<string, string>) {
  const script = `import { availableBackends } from ${
    JSON.stringify(import.meta.resolve("./backend.ts"))
  };
console.log(JSON.stringify(await availableBackends()));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", fileURLToPath(import.meta.resolve("../../deno.json")), script],
    env: { DENO_WEBGPU_BACKEND: "metal", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  return { success: output.success, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test(
  "availableBackends() skips webgpu without an adapter, and fails when RANKONE_REQUIRE_WEBGPU=1 (CI)",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    const optional = await backendsWithoutAdapter({ RANKONE_REQUIRE_WEBGPU: "" });
    assert.ok(optional.success, optional.stderr);
    assert.equal(optional.stdout, '["cpu","wasm"]');
    const required = await backendsWithoutAdapter({ RANKONE_REQUIRE_WEBGPU: "1" });
    assert.equal(required.success, false);
    assert.match(required.stderr, /RANKONE_REQUIRE_WEBGPU=1 but Deno finds no WebGPU adapter/);
    assert.match(required.stderr, /apt-get install mesa-vulkan-drivers libvulkan1/);
  },
);
