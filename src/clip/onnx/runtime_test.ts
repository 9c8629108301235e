import assert from "node:assert/strict";
import { loadOrt, ORT_PACKAGE, ORT_VERSION, ortNativeDir } from "./runtime.ts";

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
