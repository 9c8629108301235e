/**
 * The concept world's rasteriser: a scene is a list of paints (a textured fill, a shape, a band
 * across the image, a digit), drawn in order onto a square RGB canvas with 2 x 2 supersampling so
 * that small shapes keep their outline at 32 px. Everything is a pure function of the paints and
 * the generator passed in (only per-pixel noise draws from it), so a seed fixes every byte.
 *
 * Coordinates are canvas units: (0, 0) is the top-left corner, (1, 1) the bottom-right; x runs
 * right, y down. A shape's `size` is its radius in canvas units.
 */
import type { SeededRng } from "../../io/rng.ts";

export type Rgb = readonly [number, number, number];

/** Fill patterns: each maps a point to 0 (first colour) or 1 (second colour). */
export const TEXTURES = [
  "plain",
  "striped",
  "dotted",
  "checkered",
  "zigzag",
  "wavy",
  "crosshatched",
  "bubbly",
  "blotchy",
  "webbed",
  "cracked",
  "crystalline",
] as const;
export type Texture = typeof TEXTURES[number];

export const SHAPES = [
  "circle",
  "square",
  "triangle",
  "diamond",
  "cross",
  "ring",
  "star",
  "oval",
  "bar",
  "flower",
] as const;
export type Shape = typeof SHAPES[number];

export interface Pattern {
  texture: Texture;
  /** [first, second]: plain uses the first only. */
  colours: readonly [Rgb, Rgb];
  /** Period of the pattern in canvas units. */
  scale: number;
  /** Rotation of the pattern in radians. */
  angle: number;
  /** Offsets the pattern and seeds blotches and cells. */
  seed: number;
}

export type Paint =
  | { kind: "fill"; pattern: Pattern }
  | {
    kind: "shape";
    shape: Shape;
    x: number;
    y: number;
    size: number;
    rotation: number;
    /** Points of a star, petals of a flower. */
    points?: number;
    pattern: Pattern;
  }
  | {
    /** A strip across the whole image (a road, a river): `wave` bends it sinusoidally. */
    kind: "band";
    angle: number;
    /** Signed distance of the strip's centre line from the image centre. */
    offset: number;
    width: number;
    wave: number;
    pattern: Pattern;
  }
  | {
    kind: "digit";
    digit: number;
    x: number;
    y: number;
    /** Height of the glyph in canvas units. */
    size: number;
    stroke: number;
    /** Shear of the glyph (x shift per unit of height). */
    slant: number;
    pattern: Pattern;
  };

export function plain(colour: Rgb): Pattern {
  return { texture: "plain", colours: [colour, colour], scale: 1, angle: 0, seed: 0 };
}

const SUPERSAMPLE = 2;

function fract(value: number): number {
  return value - Math.floor(value);
}

/** A deterministic hash of two lattice coordinates and a seed to [0, 1). */
function hash(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix, 374761393) ^ Math.imul(iy, 668265263) ^ Math.imul(seed, 1274126177);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Smooth value noise in [0, 1] on a unit lattice. */
function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const top = hash(ix, iy, seed) * (1 - sx) + hash(ix + 1, iy, seed) * sx;
  const bottom = hash(ix, iy + 1, seed) * (1 - sx) + hash(ix + 1, iy + 1, seed) * sx;
  return top * (1 - sy) + bottom * sy;
}

/** Distances to the nearest and second-nearest jittered lattice point, and the nearest's cell. */
function voronoi(x: number, y: number, seed: number): [number, number, number] {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  let first = Infinity;
  let second = Infinity;
  let cell = 0;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const cx = ix + dx + hash(ix + dx, iy + dy, seed);
      const cy = iy + dy + hash(ix + dx, iy + dy, seed + 1);
      const distance = Math.hypot(x - cx, y - cy);
      if (distance < first) {
        second = first;
        first = distance;
        cell = hash(ix + dx, iy + dy, seed + 2);
      } else if (distance < second) {
        second = distance;
      }
    }
  }
  return [first, second, cell];
}

/** 0 or 1: which of the pattern's colours covers point (x, y). */
export function textureValue(pattern: Pattern, x: number, y: number): 0 | 1 {
  if (pattern.texture === "plain") return 0;
  const cos = Math.cos(pattern.angle);
  const sin = Math.sin(pattern.angle);
  const offset = hash(pattern.seed, 7, 11);
  // Pattern coordinates: rotated, in periods.
  const u = (x * cos + y * sin) / pattern.scale + offset;
  const v = (-x * sin + y * cos) / pattern.scale + offset;
  const cellU = fract(u) - 0.5;
  const cellV = fract(v) - 0.5;
  const on = (condition: boolean): 0 | 1 => condition ? 1 : 0;
  switch (pattern.texture) {
    case "striped":
      return on(fract(v) < 0.5);
    case "dotted":
      return on(Math.hypot(cellU, cellV) < 0.28);
    case "checkered":
      return on((Math.floor(u) + Math.floor(v)) % 2 !== 0);
    case "zigzag":
      return on(fract(v + Math.abs(fract(u) - 0.5)) < 0.5);
    case "wavy":
      return on(fract(v + 0.25 * Math.sin(2 * Math.PI * u)) < 0.5);
    case "crosshatched":
      return on(fract(u + v) < 0.2 || fract(u - v) < 0.2);
    case "bubbly": {
      const radius = Math.hypot(cellU, cellV);
      return on(radius > 0.2 && radius < 0.36);
    }
    case "blotchy":
      return on(valueNoise(u, v, pattern.seed) > 0.5);
    case "webbed": {
      const dx = x - 0.5 - 0.2 * (offset - 0.5);
      const dy = y - 0.5;
      const radius = Math.hypot(dx, dy) / pattern.scale;
      const spokes = fract((Math.atan2(dy, dx) / (2 * Math.PI)) * 10 + offset);
      return on(fract(radius) < 0.14 || spokes < 0.07);
    }
    case "cracked": {
      const [first, second] = voronoi(u, v, pattern.seed);
      return on(second - first < 0.09);
    }
    case "crystalline":
      return on(voronoi(u, v, pattern.seed)[2] > 0.5);
  }
}

function insideTriangle(x: number, y: number): boolean {
  // Equilateral-ish, pointing up: apex (0, -0.95), base at y = 0.7.
  if (y > 0.7 || y < -0.95) return false;
  return Math.abs(x) <= ((y + 0.95) / 1.65) * 0.95;
}

/** Whether local point (x, y) (the shape's radius = 1) is inside the shape. */
export function insideShape(shape: Shape, x: number, y: number, points = 5): boolean {
  const radius = Math.hypot(x, y);
  switch (shape) {
    case "circle":
      return radius <= 1;
    case "square":
      return Math.max(Math.abs(x), Math.abs(y)) <= 0.82;
    case "triangle":
      return insideTriangle(x, y);
    case "diamond":
      return Math.abs(x) + Math.abs(y) <= 1;
    case "cross":
      return (Math.abs(x) <= 0.3 && Math.abs(y) <= 0.95) ||
        (Math.abs(y) <= 0.3 && Math.abs(x) <= 0.95);
    case "ring":
      return radius <= 1 && radius >= 0.58;
    case "star": {
      // Spikes at angle -pi/2 + k * 2pi / points; the radius falls linearly between them.
      const phase = fract(((Math.atan2(y, x) + Math.PI / 2) / (2 * Math.PI)) * points);
      return radius <= 0.42 + 0.58 * Math.abs(1 - 2 * phase);
    }
    case "oval":
      return x * x + (y / 0.6) ** 2 <= 1;
    case "bar":
      return Math.abs(x) <= 1 && Math.abs(y) <= 0.28;
    case "flower": {
      const angle = Math.atan2(y, x) + Math.PI / 2;
      return radius <= 0.3 + 0.7 * Math.abs(Math.cos((points * angle) / 2));
    }
  }
}

/** Digit strokes as polylines in a [0, 1] x [0, 1.4] box (y down). */
const DIGIT_STROKES: readonly (readonly (readonly [number, number])[])[][] = [
  [[[0.5, 0.05], [0.85, 0.3], [0.9, 0.7], [0.85, 1.1], [0.5, 1.35], [0.15, 1.1], [0.1, 0.7], [
    0.15,
    0.3,
  ], [0.5, 0.05]]],
  [[[0.25, 0.3], [0.55, 0.05], [0.55, 1.35]]],
  [[[0.1, 0.35], [0.35, 0.07], [0.7, 0.07], [0.9, 0.35], [0.8, 0.65], [0.1, 1.33], [0.92, 1.33]]],
  [[[0.12, 0.15], [0.45, 0.05], [0.8, 0.2], [0.75, 0.55], [0.4, 0.68], [0.85, 0.85], [0.8, 1.2], [
    0.45,
    1.35,
  ], [0.1, 1.22]]],
  [[[0.7, 1.38], [0.7, 0.05], [0.08, 0.95], [0.95, 0.95]]],
  [[[0.88, 0.07], [0.22, 0.07], [0.15, 0.62], [0.6, 0.55], [0.9, 0.85], [0.75, 1.25], [0.4, 1.36], [
    0.1,
    1.2,
  ]]],
  [[[0.8, 0.08], [0.35, 0.35], [0.12, 0.9], [0.3, 1.3], [0.7, 1.32], [0.88, 1.0], [0.65, 0.7], [
    0.3,
    0.72,
  ], [0.13, 0.95]]],
  [[[0.08, 0.08], [0.92, 0.08], [0.4, 1.38]]],
  [
    [[0.5, 0.65], [0.2, 0.45], [0.22, 0.15], [0.5, 0.05], [0.78, 0.15], [0.8, 0.45], [0.5, 0.65]],
    [[0.5, 0.65], [0.15, 0.9], [0.2, 1.25], [0.5, 1.36], [0.8, 1.25], [0.85, 0.9], [0.5, 0.65]],
  ],
  [[[0.85, 0.45], [0.6, 0.7], [0.25, 0.65], [0.12, 0.35], [0.35, 0.06], [0.7, 0.08], [0.87, 0.4], [
    0.75,
    1.38,
  ]]],
];

function segmentDistance(
  x: number,
  y: number,
  [ax, ay]: readonly [number, number],
  [bx, by]: readonly [number, number],
): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy);
}

/** Whether point (x, y) of the glyph box ([0, 1] x [0, 1.4]) is within `stroke` of the digit. */
function onDigit(digit: number, x: number, y: number, stroke: number): boolean {
  const strokes = DIGIT_STROKES[digit];
  if (strokes === undefined) throw new RangeError(`no glyph for digit ${digit}`);
  for (const line of strokes) {
    for (let i = 0; i + 1 < line.length; i++) {
      if (segmentDistance(x, y, line[i]!, line[i + 1]!) <= stroke / 2) return true;
    }
  }
  return false;
}

/** Whether canvas point (x, y) is covered by `paint`. */
function covers(paint: Paint, x: number, y: number): boolean {
  switch (paint.kind) {
    case "fill":
      return true;
    case "shape": {
      const cos = Math.cos(-paint.rotation);
      const sin = Math.sin(-paint.rotation);
      const dx = (x - paint.x) / paint.size;
      const dy = (y - paint.y) / paint.size;
      return insideShape(paint.shape, dx * cos - dy * sin, dx * sin + dy * cos, paint.points);
    }
    case "band": {
      const nx = -Math.sin(paint.angle);
      const ny = Math.cos(paint.angle);
      const along = (x - 0.5) * Math.cos(paint.angle) + (y - 0.5) * Math.sin(paint.angle);
      const across = (x - 0.5) * nx + (y - 0.5) * ny - paint.offset;
      return Math.abs(across - paint.wave * Math.sin(2 * Math.PI * 1.5 * along)) <= paint.width / 2;
    }
    case "digit": {
      // Glyph box: height `size`, width size / 1.4, centred on (x, y); slant shears it.
      const scale = paint.size / 1.4;
      const gy = (y - paint.y) / scale + 0.7;
      const gx = (x - paint.x) / scale + 0.5 + paint.slant * (gy - 0.7);
      return onDigit(paint.digit, gx, gy, paint.stroke / scale);
    }
  }
}

function patternOrigin(paint: Paint): [number, number] {
  return paint.kind === "shape" || paint.kind === "digit" ? [paint.x, paint.y] : [0, 0];
}

export interface RenderOptions {
  /** Side in pixels. */
  size: number;
  /** Uniform noise of +-`noise` added to every channel of every pixel (0-255 scale). */
  noise?: number;
  /** Draws the noise; required when `noise` > 0. */
  rng?: SeededRng;
}

/** The scene as RGB bytes, row-major [size, size, 3]. */
export function renderScene(paints: readonly Paint[], options: RenderOptions): Uint8Array {
  const { size } = options;
  const canvas = new Float32Array(size * size * 3);
  const samples = SUPERSAMPLE * SUPERSAMPLE;
  for (const paint of paints) {
    const [originX, originY] = patternOrigin(paint);
    for (let py = 0; py < size; py++) {
      for (let px = 0; px < size; px++) {
        let covered = 0;
        let red = 0;
        let green = 0;
        let blue = 0;
        for (let s = 0; s < samples; s++) {
          const x = (px + (0.5 + (s % SUPERSAMPLE)) / SUPERSAMPLE) / size;
          const y = (py + (0.5 + Math.floor(s / SUPERSAMPLE)) / SUPERSAMPLE) / size;
          if (!covers(paint, x, y)) continue;
          covered++;
          const colour =
            paint.pattern.colours[textureValue(paint.pattern, x - originX, y - originY)];
          red += colour[0];
          green += colour[1];
          blue += colour[2];
        }
        if (covered === 0) continue;
        const keep = 1 - covered / samples;
        const at = (py * size + px) * 3;
        canvas[at] = canvas[at]! * keep + red / samples;
        canvas[at + 1] = canvas[at + 1]! * keep + green / samples;
        canvas[at + 2] = canvas[at + 2]! * keep + blue / samples;
      }
    }
  }
  const noise = options.noise ?? 0;
  if (noise > 0 && options.rng === undefined) throw new RangeError("renderScene: noise needs rng");
  const pixels = Uint8Array.from(canvas, (value) => Math.max(0, Math.min(255, Math.round(value))));
  if (noise > 0) addNoise(pixels, noise, options.rng!);
  return pixels;
}

/** Adds uniform noise of +-`amount` to every byte (clamped to 0-255), in place. */
export function addNoise(pixels: Uint8Array, amount: number, rng: SeededRng): void {
  for (let i = 0; i < pixels.length; i++) {
    const value = pixels[i]! + rng.uniform(-amount, amount);
    pixels[i] = Math.max(0, Math.min(255, Math.round(value)));
  }
}
