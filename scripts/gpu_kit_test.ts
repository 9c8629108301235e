import assert from "node:assert/strict";
import { isOtherPlatform, keepsFile } from "./gpu_kit.ts";

Deno.test("the kit keeps ONNX Runtime's linux-x64 native library and its binding, no other platform's; other platforms' packages are their package.json", () => {
  const ort = { main: "dist/index.js", otherPlatform: false };
  const bin = "bin/napi-v6";
  assert.ok(keepsFile(`${bin}/linux/x64/libonnxruntime.so.1`, ort));
  assert.ok(keepsFile(`${bin}/linux/x64/onnxruntime_binding.node`, ort));
  for (const platform of ["linux/arm64", "darwin/arm64", "win32/x64", "win32/arm64"]) {
    assert.ok(!keepsFile(`${bin}/${platform}/onnxruntime_binding.node`, ort), platform);
  }
  assert.ok(keepsFile("dist/backend.js", ort), "an unbundled package keeps its dist/");
  assert.ok(!keepsFile("dist/backend.js.map", ort) && !keepsFile("dist/backend.d.ts", ort));
  assert.ok(!isOtherPlatform("@img+sharp-libvips-linux-x64@1.3.4"));
  assert.ok(isOtherPlatform("@img+sharp-libvips-linuxmusl-x64@1.3.4"));
  assert.ok(isOtherPlatform("@img+sharp-darwin-arm64@0.35.5"));
  // Deno checks every package of the lockfile is installed: another platform's keeps package.json.
  const musl = { main: "index.cjs", otherPlatform: true };
  assert.ok(keepsFile("package.json", musl));
  assert.ok(!keepsFile("index.cjs", musl) && !keepsFile("lib/libvips-cpp.so.8", musl));
});

Deno.test("the kit keeps a TF.js package's Node bundle and wasm binaries, not its other bundles or ES modules", () => {
  const wasm = { main: "dist/tf-backend-wasm.node.js", otherPlatform: false };
  assert.ok(keepsFile("dist/tf-backend-wasm.node.js", wasm));
  assert.ok(keepsFile("dist/tfjs-backend-wasm-simd.wasm", wasm));
  assert.ok(keepsFile("package.json", wasm));
  for (const file of ["dist/tf-backend-wasm.min.js", "dist/index.js", "dist/kernels/Add.js"]) {
    assert.ok(!keepsFile(file, wasm), file);
  }
  assert.ok(!keepsFile("dist/tf-backend-wasm.node.js.map", wasm));
  const tfjs = { main: "./dist/tf.node.js", otherPlatform: false };
  assert.ok(keepsFile("dist/tf.node.js", tfjs), "main as ./dist/...");
});
