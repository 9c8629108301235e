import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { onEveryBackend } from "../../tests/backends.ts";
import { countTransfers } from "./backend.ts";
import { dropoutMask, dropoutMaskValues, type MaskDraw, philox4x32 } from "./dropout_mask.ts";

const DRAW: MaskDraw = { key: [0x9e3779b9, 17], call: 5, rate: 0.2 };

Deno.test("philox4x32() gives Random123's known answers (tests/kat_vectors, philox4x32 10)", () => {
  const cases = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [counter, key, expected] of cases) {
    const block = Int32Array.from(counter!);
    philox4x32(block, key!);
    assert.deepEqual([...block].map((word) => word >>> 0), expected);
  }
});

Deno.test("dropoutMask() equals the JavaScript reference bit for bit on every backend (cpu, wasm, webgpu), odd sizes included", async () => {
  const shapes: [number, number, number][] = [[3, 7, 13], [2, 5, 64], [1, 1, 1], [4, 197, 96]];
  await onEveryBackend(async (backend) => {
    for (const shape of shapes) {
      const mask = dropoutMask(shape, DRAW);
      const values = await mask.data();
      mask.dispose();
      const expected = dropoutMaskValues(shape, DRAW);
      const differing = values.findIndex((value, i) => value !== expected[i]);
      assert.equal(differing, -1, `${backend} [${shape.join(", ")}]: first difference`);
    }
  });
});

Deno.test("dropoutMask() writes nothing from the host on wasm and webgpu (a ViT-B/16 step's 5.4 GB of noise did) and reads nothing back", async () => {
  await onEveryBackend(async (backend) => {
    const { transfers } = await countTransfers(() => {
      tf.dispose(dropoutMask([4, 197, 768], DRAW));
      return Promise.resolve();
    });
    assert.equal(transfers.reads, 0, backend);
    // The cpu backend holds every tensor on the host: it counts no writes (null).
    assert.equal(transfers.writeBytes, backend === "cpu" ? null : 0, backend);
  });
});

Deno.test("dropoutMask() over a prefix of the tokens is the full context's mask at those positions, and replays from (key, call)", () => {
  const [batch, tokens, width] = [3, 40, 20];
  const full = dropoutMaskValues([batch, tokens, width], DRAW);
  const prefix = dropoutMaskValues([batch, 7, width], DRAW);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < 7; t++) {
      for (let d = 0; d < width; d++) {
        const at = `[${b}, ${t}, ${d}]`;
        assert.equal(prefix[(b * 7 + t) * width + d], full[(b * tokens + t) * width + d], at);
      }
    }
  }
  assert.deepEqual(dropoutMaskValues([batch, tokens, width], DRAW), full, "same (key, call)");
  const nextCall = dropoutMaskValues([batch, tokens, width], { ...DRAW, call: DRAW.call + 1 });
  assert.notDeepEqual(nextCall, full);
});

/** Pearson correlation of the kept indicators at the pairs `pairs` yields. */
function correlation(kept: Uint8Array, pairs: Iterable<[number, number]>): number {
  let n = 0, sumX = 0, sumY = 0, sumXY = 0, sumXX = 0, sumYY = 0;
  for (const [i, j] of pairs) {
    const x = kept[i]!, y = kept[j]!;
    n++;
    sumX += x;
    sumY += y;
    sumXY += x * y;
    sumXX += x * x;
    sumYY += y * y;
  }
  const covariance = sumXY / n - (sumX / n) * (sumY / n);
  const spread = Math.sqrt((sumXX / n - (sumX / n) ** 2) * (sumYY / n - (sumY / n) ** 2));
  return covariance / spread;
}

/** Pairs of row-major indices one step apart along `axis` of a [batch, tokens, width] array. */
function* neighbours(
  [batch, tokens, width]: [number, number, number],
  axis: "width" | "tokens" | "batch",
): Generator<[number, number]> {
  const at = (b: number, t: number, d: number) => (b * tokens + t) * width + d;
  for (let b = 0; b < batch - (axis === "batch" ? 1 : 0); b++) {
    for (let t = 0; t < tokens - (axis === "tokens" ? 1 : 0); t++) {
      for (let d = 0; d < width - (axis === "width" ? 1 : 0); d++) {
        const next = axis === "width"
          ? at(b, t, d + 1)
          : axis === "tokens"
          ? at(b, t + 1, d)
          : at(b + 1, t, d);
        yield [at(b, t, d), next];
      }
    }
  }
}

Deno.test("dropoutMask() keeps 1 - rate of the entries (within 4 standard errors), scaled by 1/keep, with no correlation between neighbouring elements, tokens, samples, calls or keys", () => {
  const [batch, tokens, width] = [16, 50, 128]; // 102,400 entries
  const size = batch * tokens * width;
  for (const rate of [0.1, 0.2, 0.5]) {
    const draw = { ...DRAW, rate };
    const values = dropoutMaskValues([batch, tokens, width], draw);
    const keep = 1 - rate;
    assert.ok(values.every((value) => value === 0 || value === Math.fround(1 / keep)));
    const kept = Uint8Array.from(values, (value) => value === 0 ? 0 : 1);
    const keptShare = kept.reduce((sum, value) => sum + value, 0) / size;
    const standardError = Math.sqrt((keep * (1 - keep)) / size);
    assert.ok(Math.abs(keptShare - keep) < 4 * standardError, `rate ${rate}: kept ${keptShare}`);

    // Independent indicators: the correlation's standard error is about 1 / sqrt(pairs).
    const bound = 4 / Math.sqrt(size);
    for (const axis of ["width", "tokens", "batch"] as const) {
      const r = correlation(kept, neighbours([batch, tokens, width], axis));
      assert.ok(Math.abs(r) < bound, `rate ${rate}, neighbours along ${axis}: r = ${r}`);
    }
    const otherMasks = {
      "the next call": { ...draw, call: draw.call + 1 },
      "a key one bit apart": { ...draw, key: [draw.key[0] ^ 1, draw.key[1]] as [number, number] },
    };
    for (const [label, other] of Object.entries(otherMasks)) {
      const otherKept = Uint8Array.from(
        dropoutMaskValues([batch, tokens, width], other),
        (value) => value === 0 ? 0 : 1,
      );
      const both = new Uint8Array([...kept, ...otherKept]);
      const samePlace = (function* (): Generator<[number, number]> {
        for (let i = 0; i < size; i++) yield [i, size + i];
      })();
      const r = correlation(both, samePlace);
      assert.ok(Math.abs(r) < bound, `rate ${rate}, ${label}: r = ${r}`);
    }
  }
});

Deno.test("dropoutMask() leaves no tensor behind and rejects a rate outside [0, 1)", () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    dropoutMask([2, 3, 4], DRAW);
  });
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => dropoutMask([2, 3, 4], { ...DRAW, rate: 1 }), /rate must be in \[0, 1\)/);
});
