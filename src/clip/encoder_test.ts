import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { relativeError } from "../../tests/tolerance.ts";
import { UserError } from "../errors.ts";
import { npyToFloat32, npyToInt32, readNpy } from "../io/npy.ts";
import { useBackend } from "./backend.ts";
import { chooseEngine, type ClipEncoder, openEncoder, type OrtAvailability } from "./encoder.ts";
import type { InferenceSetting } from "./settings.ts";
import { disposeModel } from "./model.ts";
import { loadArchPreset } from "./presets.ts";
import { randomClipModel } from "./synthetic.ts";
import { loadClipModel } from "./weights.ts";
import { WEIGHT_LAYOUTS } from "./weights_header.ts";

const FIXTURE = "fixtures/clip-tiny";
const TINY = loadArchPreset("clip-tiny");

async function withEncoders<T>(
  encoders: Promise<ClipEncoder>[],
  body: (encoders: ClipEncoder[]) => T | Promise<T>,
): Promise<T> {
  const opened = await Promise.all(encoders);
  try {
    return await body(opened);
  } finally {
    for (const encoder of opened) await encoder.dispose();
  }
}

Deno.test(
  "ONNX Runtime encodes clip-tiny like OpenAI's code and the TF.js path within 1e-4, both layouts",
  needsShared(FIXTURE),
  async () => {
    await useBackend("cpu");
    const root = sharedPath(FIXTURE)!;
    const pixels = npyToFloat32(await readNpy(`${root}/pixels.npy`), "pixels"); // [5, 3, 32, 32]
    const tokens = npyToInt32(await readNpy(`${root}/tokens.npy`), "tokens"); // [4, 20]
    const expectedImage = npyToFloat32(await readNpy(`${root}/image_embeds.npy`), "image");
    const expectedText = npyToFloat32(await readNpy(`${root}/text_embeds.npy`), "text");
    const before = tf.memory().numTensors;
    for (const layout of WEIGHT_LAYOUTS) {
      const { model } = await loadClipModel(`${root}/${layout}`);
      await withEncoders([
        openEncoder(model, { engine: "onnx", device: "cpu" }),
        openEncoder(model, { engine: "tfjs" }),
      ], async ([onnx, tfjs]) => {
        assert.equal(onnx!.engine, "onnx");
        assert.equal(onnx!.device, "cpu");
        assert.equal(tfjs!.engine, "tfjs");
        const image = await onnx!.encodeImages(pixels);
        const text = await onnx!.encodeTexts(tokens);
        assert.equal(image.length, 5 * 48);
        assert.equal(text.length, 4 * 48);
        assert.ok(relativeError(image, expectedImage) <= 1e-4, `${layout} image vs reference`);
        assert.ok(relativeError(text, expectedText) <= 1e-4, `${layout} text vs reference`);
        const tfjsImage = await tfjs!.encodeImages(pixels);
        const tfjsText = await tfjs!.encodeTexts(tokens);
        assert.ok(relativeError(image, tfjsImage) <= 1e-4, `${layout} image vs TF.js`);
        assert.ok(relativeError(text, tfjsText) <= 1e-4, `${layout} text vs TF.js`);
        // The batch is dynamic: two images alone give the first two rows.
        const two = await onnx!.encodeImages(pixels.subarray(0, 2 * 3 * 32 * 32));
        assert.ok(relativeError(two, image.subarray(0, 2 * 48)) <= 1e-6);
      });
      disposeModel(model);
    }
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  },
);

/** Rows `[start, words..., end, 0...]` of clip-tiny's context 20 (end 499 = the highest id). */
function tokenRows(rows: number[][]): Int32Array {
  const ids = new Int32Array(rows.length * 20);
  rows.forEach((row, i) => ids.set(row, i * 20));
  return ids;
}

Deno.test("a row holding the end id twice pools at the first one on both engines (torch's argmax)", async () => {
  await useBackend("cpu");
  const model = randomClipModel(TINY, { seed: 3 });
  try {
    await withEncoders([
      openEncoder(model, { engine: "onnx", device: "cpu" }),
      openEncoder(model, { engine: "tfjs" }),
    ], async ([onnx, tfjs]) => {
      // Row 0 ends at 3 and again at 6; row 1 is row 0 cut after its first end token. Under the
      // causal mask the first end token sees the same 4 tokens in both, so the rows agree.
      const tokens = tokenRows([[498, 5, 6, 499, 7, 8, 499], [498, 5, 6, 499]]);
      for (const encoder of [onnx!, tfjs!]) {
        const text = await encoder.encodeTexts(tokens);
        assert.ok(
          relativeError(text.subarray(0, 48), text.subarray(48)) <= 1e-5,
          `${encoder.engine}: pooled at the first end token`,
        );
      }
      const [fromOnnx, fromTfjs] = await Promise.all([
        onnx!.encodeTexts(tokens),
        tfjs!.encodeTexts(tokens),
      ]);
      assert.ok(relativeError(fromOnnx, fromTfjs) <= 1e-4);
      // Rows of different lengths in one batch (the graph computes up to the longest).
      const mixed = tokenRows([[498, 5, 499], [498, 5, 6, 7, 8, 9, 10, 11, 12, 499]]);
      assert.ok(
        relativeError(await onnx!.encodeTexts(mixed), await tfjs!.encodeTexts(mixed)) <= 1e-4,
      );
    });
  } finally {
    disposeModel(model);
  }
});

Deno.test("an ONNX encoder rejects partial rows and ids outside the vocabulary, naming them", async () => {
  await useBackend("cpu");
  const model = randomClipModel(TINY, { seed: 1 });
  try {
    await withEncoders([openEncoder(model, { engine: "onnx" })], async ([onnx]) => {
      await assert.rejects(
        onnx!.encodeImages(new Float32Array(3 * 32 * 32 + 1)),
        /3073 values are not whole rows of 3072/,
      );
      await assert.rejects(
        onnx!.encodeTexts(tokenRows([[498, 500, 499]])),
        /id 500 at row 0 is outside the vocabulary \[0, 500\)/,
      );
      assert.equal((await onnx!.encodeImages(new Float32Array(0))).length, 0);
    });
  } finally {
    disposeModel(model);
  }
});

const ALL_OPEN: OrtAvailability = {
  runtime: null,
  devices: { cuda: null, webgpu: null, cpu: null },
};
const CPU_ONLY: OrtAvailability = {
  runtime: null,
  devices: {
    cuda: { reason: "no CUDA libraries", hint: "install them" },
    webgpu: { reason: "no adapter" },
    cpu: null,
  },
};
const NOT_TRIED = { reason: "not tried" };
const NO_RUNTIME: OrtAvailability = {
  runtime: { reason: "libonnxruntime.so.1 did not load" },
  devices: { cuda: NOT_TRIED, webgpu: NOT_TRIED, cpu: NOT_TRIED },
};

function exitCodeOf(body: () => unknown): number {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof UserError, String(error));
    return error.exitCode;
  }
  return 0;
}

Deno.test("chooseEngine: auto takes the best device that opens, else TF.js with the reason", () => {
  const auto: InferenceSetting = { engine: "auto", device: "auto" };
  assert.deepEqual(chooseEngine(auto, ALL_OPEN), {
    engine: "onnx",
    device: "cuda",
    reason: "the best device that opens",
  });
  assert.deepEqual(chooseEngine(auto, CPU_ONLY), {
    engine: "onnx",
    device: "cpu",
    reason: "the best device that opens; cuda: no CUDA libraries; webgpu: no adapter",
  });
  assert.deepEqual(chooseEngine(auto, NO_RUNTIME), {
    engine: "tfjs",
    reason: "ONNX Runtime unavailable: libonnxruntime.so.1 did not load",
  });
  assert.deepEqual(chooseEngine({ engine: "auto", device: "webgpu" }, ALL_OPEN), {
    engine: "onnx",
    device: "webgpu",
    reason: "device webgpu was asked for",
  });
  // An adapter hook cannot be exported: auto runs it on TF.js.
  assert.equal(chooseEngine(auto, ALL_OPEN, { linear: true }).engine, "tfjs");
});

Deno.test("chooseEngine: an explicit engine or device that cannot be honoured is exit 2, saying why", () => {
  const cases: [InferenceSetting, OrtAvailability, RegExp][] = [
    [{ engine: "onnx", device: "auto" }, NO_RUNTIME, /onnx on device auto .*did not load/],
    [{ engine: "onnx", device: "cuda" }, CPU_ONLY, /cuda: no CUDA libraries; install them$/],
    [{ engine: "auto", device: "cuda" }, CPU_ONLY, /auto on device cuda .*no CUDA libraries/],
    [{ engine: "tfjs", device: "cpu" }, ALL_OPEN, /give device auto with engine tfjs/],
  ];
  for (const [setting, available, message] of cases) {
    assert.equal(exitCodeOf(() => chooseEngine(setting, available)), 2);
    assert.throws(() => chooseEngine(setting, available), message);
  }
  assert.throws(
    () => chooseEngine({ engine: "onnx", device: "auto" }, ALL_OPEN, { linear: true }),
    /adapter hook .* TF\.js only/,
  );
});

Deno.test("openEncoder on this machine: auto opens ONNX Runtime; a device that is absent is exit 2", async () => {
  await useBackend("cpu");
  const model = randomClipModel(TINY, { seed: 2 });
  try {
    await withEncoders([openEncoder(model)], ([auto]) => {
      assert.equal(auto!.engine, "onnx");
      assert.match(auto!.reason, /best device that opens/);
    });
    for (const device of ["cuda", "webgpu"] as const) {
      let opened: ClipEncoder | null = null;
      try {
        opened = await openEncoder(model, { engine: "onnx", device });
      } catch (error) {
        assert.ok(error instanceof UserError && error.exitCode === 2, String(error));
        assert.match(error.message, new RegExp(`engine onnx on device ${device} cannot run here`));
      }
      await opened?.dispose(); // a machine with that device opens it
    }
  } finally {
    disposeModel(model);
  }
});

Deno.test("loading the encoder module loads no native ONNX Runtime library until an encoder opens", async () => {
  const encoderModule = fileURLToPath(new URL("./encoder.ts", import.meta.url));
  const script = `
    const loaded = () => Deno.readTextFileSync("/proc/self/maps").includes("libonnxruntime");
    await import(${JSON.stringify(encoderModule)});
    console.log(loaded());
  `;
  if (Deno.build.os !== "linux") return; // /proc/self/maps is Linux's
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "false");
});
