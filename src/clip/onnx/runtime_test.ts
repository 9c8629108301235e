import assert from "node:assert/strict";
import { loadOrt, ORT_PACKAGE, ORT_VERSION, ortMessage, ortNativeDir } from "./runtime.ts";

Deno.test("ORT_VERSION is the version deno.json pins, and the native folder is where it loads from", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)),
  );
  assert.equal(config.imports[ORT_PACKAGE], `npm:${ORT_PACKAGE}@${ORT_VERSION}`);
  const ort = await loadOrt();
  if (ort instanceof Error) throw ort;
  assert.equal(ort.env.versions.node, ORT_VERSION);
  if (Deno.build.os === "linux") {
    assert.ok(Deno.statSync(`${ortNativeDir()}/libonnxruntime.so.1`).isFile);
  }
});

Deno.test("ortMessage keeps the words of an ORT_ENFORCE error and drops its source location and condition", () => {
  const enforced = new Error(
    "/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 " +
      "onnxruntime::webgpu::WebGpuContext::Initialize(const Config&)::<lambda()> " +
      "adapter_result.status == wgpu::RequestAdapterStatus::Success was false. " +
      "Failed to get a WebGPU adapter: No supported adapters\nstack",
  );
  assert.equal(ortMessage(enforced), "Failed to get a WebGPU adapter: No supported adapters");
  assert.equal(ortMessage(new Error("Error: plain failure\nmore")), "plain failure");
  assert.equal(ortMessage(new Error("x".repeat(400))).length, 300);
});
