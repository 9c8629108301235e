import assert from "node:assert/strict";
import { CUDA_PROVIDER_FILES, CUDA_RUNTIME_LIBRARIES } from "../clip/onnx/runtime.ts";
import { type DoctorReport, doctorReport, formatDoctor } from "./doctor.ts";

Deno.test("doctor reports every TF.js backend, ORT's devices and CUDA libraries, and auto's pick", async () => {
  const report = await doctorReport();
  assert.deepEqual(
    report.tfjs.backends.map((backend) => backend.name),
    ["cpu", "wasm", "webgpu", "tensorflow", "tensorflow-gpu"],
  );
  assert.ok(report.tfjs.backends[0]!.available, "cpu always starts");
  const missingNode = report.tfjs.backends.find((b) => b.name === "tensorflow" && !b.available);
  if (missingNode) assert.match(missingNode.detail, /deno install --allow-scripts=/);
  const ort = report.onnxRuntime;
  assert.equal(ort.runtime, null, "onnxruntime-node loads on the project's platforms");
  assert.equal(ort.devices.cpu, null, "a CPU session opens");
  assert.ok(ort.providers.some((p) => p.name === "cpu" && p.bundled));
  assert.deepEqual(
    ort.cuda.map((entry) => entry.file),
    [...CUDA_PROVIDER_FILES, ...CUDA_RUNTIME_LIBRARIES],
  );
  // auto's pick is the best device that opened.
  const best = (["cuda", "webgpu", "cpu"] as const).find((d) => ort.devices[d] === null);
  assert.deepEqual(report.inference.engine === "onnx" && report.inference.device, best);
  const text = formatDoctor(report);
  for (const name of ["tensorflow-gpu", "native library", "cuda", "webgpu", "inference auto"]) {
    assert.ok(text.includes(name), `the text names ${name}`);
  }
});

Deno.test("doctor's text says why a missing device is missing and how to get it", () => {
  const missing = { reason: "no Vulkan loader (libvulkan.so.1)", hint: "install Vulkan" };
  const report: DoctorReport = {
    tfjs: {
      version: "4.22.0",
      backends: [{ name: "cpu", available: true, detail: "" }],
      auto: "cpu",
    },
    onnxRuntime: {
      version: "1.30.0",
      runtime: { reason: "onnxruntime-node did not load (libc too old)" },
      providers: [],
      devices: { cuda: missing, webgpu: missing, cpu: { reason: "ONNX Runtime did not load" } },
      cuda: [{ file: "libcudart.so.12", found: false }],
    },
    inference: {
      engine: "tfjs",
      reason: "ONNX Runtime unavailable: onnxruntime-node did not load",
    },
  };
  const text = formatDoctor(report);
  assert.match(text, /native library +no +onnxruntime-node did not load \(libc too old\)/);
  assert.match(text, /webgpu +no +no Vulkan loader \(libvulkan\.so\.1\)\n +install Vulkan/);
  assert.match(text, /CUDA libraries missing: libcudart\.so\.12/);
  assert.match(text, /inference auto picks TF\.js \(ONNX Runtime unavailable: /);
});
