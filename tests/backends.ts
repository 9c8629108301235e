/** Tests across the tfjs backends present (cpu, wasm, and webgpu where an adapter exists). */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { availableBackends, type ConcreteBackend, useBackend } from "../src/clip/backend.ts";

const BACKENDS = await availableBackends();

/** Runs `check` on each backend, asserting it leaves no tensor behind; ends on cpu. */
export async function onEveryBackend(
  check: (backend: ConcreteBackend) => Promise<void>,
): Promise<void> {
  for (const backend of BACKENDS) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    await check(backend);
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors left behind`);
  }
  await useBackend("cpu");
}

/**
 * `Deno.test` options that skip a WebGPU-only test where there is no adapter (CI has one: it
 * sets RANKONE_REQUIRE_WEBGPU, and then a missing adapter fails instead).
 */
export function needsWebgpu(): { ignore: boolean } {
  return { ignore: !BACKENDS.includes("webgpu") };
}
