import assert from "node:assert/strict";
import { SeededRng } from "../../io/rng.ts";
import { type Paint, plain, renderScene, TEXTURES, textureValue } from "./render.ts";

const RED = [220, 0, 0] as const;
const BLUE = [0, 0, 200] as const;

function pixel(pixels: Uint8Array, size: number, x: number, y: number): number[] {
  const at = (y * size + x) * 3;
  return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
}

Deno.test("renderScene() paints in order: a red circle of radius 0.23 in the middle of a blue fill", () => {
  const paints: Paint[] = [
    { kind: "fill", pattern: plain(BLUE) },
    {
      kind: "shape",
      shape: "circle",
      x: 0.5,
      y: 0.5,
      size: 0.23,
      rotation: 0,
      pattern: plain(RED),
    },
  ];
  const pixels = renderScene(paints, { size: 32 });
  assert.equal(pixels.length, 32 * 32 * 3);
  assert.deepEqual(pixel(pixels, 32, 16, 16), [220, 0, 0]);
  assert.deepEqual(pixel(pixels, 32, 0, 0), [0, 0, 200]);
  assert.deepEqual(pixel(pixels, 32, 16, 2), [0, 0, 200]);
  // An edge pixel is a blend of the two (2 x 2 supersampling): the circle's edge at x = 23.4.
  const edge = pixel(pixels, 32, 23, 16);
  assert.ok(edge[0]! > 0 && edge[0]! < 220 && edge[2]! > 0 && edge[2]! < 200, `edge ${edge}`);
});

Deno.test("renderScene() is a pure function of the paints and the noise generator", () => {
  const paints: Paint[] = [{
    kind: "fill",
    pattern: { texture: "cracked", colours: [RED, BLUE], scale: 0.2, angle: 0.3, seed: 5 },
  }];
  const noisy = (seed: number) =>
    renderScene(paints, { size: 16, noise: 10, rng: new SeededRng(seed) });
  assert.deepEqual(noisy(1), noisy(1));
  assert.notDeepEqual(noisy(1), noisy(2));
  assert.throws(() => renderScene(paints, { size: 16, noise: 10 }), /noise needs rng/);
});

Deno.test("every texture but plain shows both of its colours over an image", () => {
  for (const texture of TEXTURES) {
    const pattern = { texture, colours: [RED, BLUE] as const, scale: 0.2, angle: 0.2, seed: 3 };
    let ones = 0;
    for (let i = 0; i < 400; i++) {
      ones += textureValue(pattern, (i % 20) / 20, Math.floor(i / 20) / 20);
    }
    if (texture === "plain") assert.equal(ones, 0);
    else assert.ok(ones > 20 && ones < 380, `${texture}: ${ones} of 400 points`);
  }
});

Deno.test("the ten digits draw ten different glyphs", () => {
  const glyphs = Array.from({ length: 10 }, (_, digit) =>
    renderScene([
      { kind: "fill", pattern: plain([0, 0, 0]) },
      {
        kind: "digit",
        digit,
        x: 0.5,
        y: 0.5,
        size: 0.8,
        stroke: 0.1,
        slant: 0,
        pattern: plain([255, 255, 255]),
      },
    ], { size: 28 }).join(","));
  assert.equal(new Set(glyphs).size, 10);
});
