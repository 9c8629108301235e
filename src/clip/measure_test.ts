import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { onEveryBackend } from "../../tests/backends.ts";
import { useBackend } from "./backend.ts";
import { machineLabel, measuredOn } from "./machine.ts";
import {
  backendMemory,
  steadyItemsPerSecond,
  steadyUnitsPerSecond,
  ThroughputMeter,
  watchTensorBytes,
} from "./measure.ts";

Deno.test("ThroughputMeter: 3 steps of 8 images ending at 500, 700, 900 ms run at 5 steps/s and 40 images/s after the 0.5 s warm-up", () => {
  const clock = [0, 500, 700, 900];
  const meter = new ThroughputMeter({ now: () => clock.shift()! });
  assert.equal(meter.result(), null);
  meter.start();
  for (let step = 0; step < 3; step++) meter.done(8);
  const run = meter.result()!;
  assert.deepEqual(run, {
    units: 3,
    items: 24,
    seconds: 0.9,
    firstUnitSeconds: 0.5,
    firstUnitItems: 8,
  });
  assert.ok(Math.abs(steadyUnitsPerSecond(run)! - 5) < 1e-9);
  assert.ok(Math.abs(steadyItemsPerSecond(run)! - 40) < 1e-9);
  // One unit has no rate apart from its warm-up.
  const single = { ...run, units: 1, items: 8, seconds: 0.5 };
  assert.equal(steadyUnitsPerSecond(single), null);
  assert.equal(steadyItemsPerSecond(single), null);
});

Deno.test("watchTensorBytes() sees the 32 bytes an add-then-mul of 4-float tensors holds at once, as tf.profile does, on every backend", async () => {
  await onEveryBackend(async (backend) => {
    const [a, b, c] = [1, 2, 3].map((v) => tf.fill([4], v));
    const before = tf.memory().numBytes;
    const outer = watchTensorBytes();
    const inner = watchTensorBytes();
    // [4] + [4] -> 16 bytes, times [4] -> 16 more; the sum is freed when the scope ends.
    const profile = await tf.profile(() => tf.tidy(() => tf.mul(tf.add(a!, b!), c!)));
    const result = profile.result as tf.Tensor;
    assert.equal(inner.peak() - before, 32, backend);
    assert.equal(profile.peakBytes - before, 32, backend);
    inner.resetPeak();
    assert.equal(inner.peak() - before, 16, `${backend}: the product alone`);
    inner.stop();
    result.dispose();
    // Three 16-byte results held at once, after the inner watch stopped.
    tf.tidy(() => tf.add(a!, b!).add(c!).add(a!)).dispose();
    assert.equal(outer.peak() - before, 48, backend);
    assert.equal(inner.peak() - before, 16, `${backend}: a stopped watch stays as it was`);
    outer.stop();
    // The engine's field is plain data again, and still counts right.
    const state = (tf.engine() as unknown as { state: object }).state;
    assert.equal(typeof Object.getOwnPropertyDescriptor(state, "numBytes")?.value, "number");
    assert.equal(tf.memory().numBytes, before);
    tf.dispose([a!, b!, c!]);
  });
});

Deno.test("backendMemory(): none on cpu; the wasm heap holds every live tensor; WebGPU's buffer pool holds a 1 MiB tensor made on the GPU", async () => {
  await onEveryBackend((backend) => {
    const tensor = tf.zeros([1024, 256]); // 1 MiB, filled by a kernel (on the GPU for WebGPU)
    tf.tidy(() => tensor.add(1)).dispose();
    const memory = backendMemory();
    const expected = { cpu: null, wasm: "wasm-heap", webgpu: "webgpu-buffer-pool" } as const;
    assert.equal(memory?.kind ?? null, expected[backend as keyof typeof expected], backend);
    if (backend === "wasm") assert.ok(memory!.bytes >= tf.memory().numBytes);
    if (backend === "webgpu") assert.ok(memory!.bytes >= 2 ** 20);
    tensor.dispose();
    return Promise.resolve();
  });
});

Deno.test("measuredOn() names the backend and the host; machineLabel() puts them on one line", async () => {
  await onEveryBackend(async (backend) => {
    const here = await measuredOn();
    assert.deepEqual([here.engine, here.backend], ["tfjs", backend]);
    // WebGPU names its adapter (a software one too: "llvmpipe ..."); the others run on the CPU.
    assert.equal(here.device === here.cpu, backend !== "webgpu", `${backend}: ${here.device}`);
    assert.ok(here.cores >= 1 && here.memoryBytes > 0);
  });
  await useBackend("wasm");
  const machine = await measuredOn();
  await useBackend("cpu");
  const label = machineLabel({ ...machine, cpu: "AMD EPYC", cores: 2, memoryBytes: 24 * 2 ** 30 });
  assert.equal(label, "tfjs wasm on AMD EPYC (2 cores, 24 GiB)");
  const gpu = machineLabel({
    ...machine,
    backend: "webgpu",
    device: "NVIDIA RTX A6000",
    cpu: "AMD EPYC",
    cores: 16,
    memoryBytes: 128 * 2 ** 30,
  });
  assert.equal(gpu, "tfjs webgpu on NVIDIA RTX A6000 (host: AMD EPYC, 16 cores, 128 GiB)");
});
