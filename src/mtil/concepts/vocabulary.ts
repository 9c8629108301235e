/**
 * The concept pool's words and how they look: colours, shapes, textures, sizes, positions,
 * counts and digits, each a name for something the rasteriser draws. `attributeScene` draws a
 * random scene of these concepts and a caption that says (part of) what is in it: the generic
 * image-text pairs a tiny CLIP is pretrained on beside the benchmark's own concepts.
 */
import type { SeededRng } from "../../io/rng.ts";
import { type Paint, type Pattern, plain, type Rgb, type Shape, type Texture } from "./render.ts";

export const COLOURS = {
  red: [215, 40, 40],
  orange: [240, 135, 30],
  yellow: [240, 215, 50],
  green: [55, 165, 60],
  blue: [45, 90, 215],
  purple: [135, 60, 185],
  pink: [240, 135, 180],
  brown: [125, 80, 40],
  white: [238, 238, 238],
  black: [22, 22, 22],
  grey: [128, 128, 128],
} as const satisfies Record<string, Rgb>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

/** The shapes captions name, with their plural. */
export const SHAPE_WORDS: Partial<Record<Shape, readonly [string, string]>> = {
  circle: ["circle", "circles"],
  square: ["square", "squares"],
  triangle: ["triangle", "triangles"],
  diamond: ["diamond", "diamonds"],
  cross: ["cross", "crosses"],
  ring: ["ring", "rings"],
  star: ["star", "stars"],
};
const NAMED_SHAPES = Object.keys(SHAPE_WORDS) as Shape[];

/**
 * Words for each texture: the first is the pool's own, the others are what texture datasets call
 * it (DTD's class names are among them), so those names stand for a pattern the model has seen.
 */
export const TEXTURE_WORDS: Record<Exclude<Texture, "plain">, readonly string[]> = {
  striped: ["striped", "banded"],
  dotted: ["dotted", "bumpy", "spotted"],
  checkered: ["checkered", "chequered"],
  zigzag: ["zigzag", "braided"],
  wavy: ["wavy"],
  crosshatched: ["crosshatched"],
  bubbly: ["bubbly"],
  blotchy: ["blotchy"],
  webbed: ["cobwebbed", "webbed"],
  cracked: ["cracked"],
  crystalline: ["crystalline"],
};
const PATTERNED = Object.keys(TEXTURE_WORDS) as Exclude<Texture, "plain">[];

export const NUMBER_WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
] as const;

/** Where a single object sits: its centre, and how a caption says it. */
const POSITIONS = [
  { words: "on the left", x: 0.27, y: 0.5 },
  { words: "on the right", x: 0.73, y: 0.5 },
  { words: "at the top", x: 0.5, y: 0.27 },
  { words: "at the bottom", x: 0.5, y: 0.73 },
  { words: "in the middle", x: 0.5, y: 0.5 },
] as const;

export function pick<T>(rng: SeededRng, items: readonly T[]): T {
  return items[rng.nextInt(items.length)]!;
}

/** A colour with each channel moved by up to +-`amount`. */
export function shade(rng: SeededRng, colour: Rgb, amount = 18): Rgb {
  const channel = (value: number) =>
    Math.max(0, Math.min(255, value + rng.uniform(-amount, amount)));
  return [channel(colour[0]), channel(colour[1]), channel(colour[2])];
}

/** Two different colour names. */
export function colourPair(rng: SeededRng): [ColourName, ColourName] {
  const first = pick(rng, COLOUR_NAMES);
  const second = pick(rng, COLOUR_NAMES.filter((name) => name !== first));
  return [first, second];
}

export function texturePattern(
  rng: SeededRng,
  texture: Texture,
  colours: readonly [Rgb, Rgb],
  options: { scale?: number } = {},
): Pattern {
  return {
    texture,
    colours: [shade(rng, colours[0]), shade(rng, colours[1])],
    scale: options.scale ?? rng.uniform(0.16, 0.3),
    angle: texture === "striped" || texture === "zigzag" || texture === "wavy"
      ? pick(rng, [0, Math.PI / 2, Math.PI / 4, -Math.PI / 4]) + rng.uniform(-0.15, 0.15)
      : rng.uniform(-0.3, 0.3),
    seed: rng.nextInt(1 << 20),
  };
}

export interface CaptionedScene {
  paints: Paint[];
  caption: string;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** Object centres for `count` objects of radius `size`, apart from each other. */
function scatter(rng: SeededRng, count: number, size: number): [number, number][] {
  const centres: [number, number][] = [];
  for (let attempt = 0; centres.length < count; attempt++) {
    const x = rng.uniform(size, 1 - size);
    const y = rng.uniform(size, 1 - size);
    const apart = centres.every(([cx, cy]) => Math.hypot(cx - x, cy - y) > 1.9 * size);
    if (apart || attempt > 60) centres.push([x, y]);
  }
  return centres;
}

/** One to four objects of one shape and colour on a plain or textured background. */
function objectScene(rng: SeededRng): CaptionedScene {
  const shape = pick(rng, NAMED_SHAPES);
  const [colour, background] = colourPair(rng);
  const count = rng.nextFloat() < 0.5 ? 1 : 2 + rng.nextInt(3);
  const sizeWord = count === 1 ? pick(rng, ["small", "large", ""]) : pick(rng, ["small", ""]);
  const size = sizeWord === "small"
    ? rng.uniform(0.1, 0.14)
    : sizeWord === "large"
    ? rng.uniform(0.3, 0.38)
    : count === 1
    ? rng.uniform(0.18, 0.26)
    : rng.uniform(0.13, 0.18);
  const textured = rng.nextFloat() < 0.4;
  const texture = textured ? pick(rng, PATTERNED) : "plain";
  const backgroundColours: [Rgb, Rgb] = textured
    ? [COLOURS[background], COLOURS[pick(rng, COLOUR_NAMES.filter((c) => c !== colour))]]
    : [COLOURS[background], COLOURS[background]];
  const paints: Paint[] = [{
    kind: "fill",
    pattern: texturePattern(rng, texture, backgroundColours),
  }];
  const position = count === 1 && rng.nextFloat() < 0.5 ? pick(rng, POSITIONS) : null;
  const centres: [number, number][] = position !== null
    ? [[position.x + rng.uniform(-0.05, 0.05), position.y + rng.uniform(-0.05, 0.05)]]
    : scatter(rng, count, size);
  const objectColour = shade(rng, COLOURS[colour]);
  for (const [x, y] of centres) {
    paints.push({
      kind: "shape",
      shape,
      x,
      y,
      size: position !== null ? Math.min(size, 0.22) : size,
      rotation: shape === "triangle" || shape === "star" ? rng.uniform(-0.2, 0.2) : 0,
      pattern: plain(objectColour),
    });
  }
  const [singular, plural] = SHAPE_WORDS[shape]!;
  const adjectives = [sizeWord, colour].filter((word) => word !== "").join(" ");
  let caption = count === 1
    ? `${article(adjectives)} ${singular}`
    : `${NUMBER_WORDS[count]} ${adjectives} ${plural}`;
  if (position !== null) caption += ` ${position.words}`;
  if (rng.nextFloat() < 0.6) {
    const backgroundWords = textured
      ? `${pick(rng, TEXTURE_WORDS[texture as Exclude<Texture, "plain">])} ${background}`
      : background;
    caption += ` on ${article(backgroundWords)} background`;
  }
  return { paints, caption: rng.nextFloat() < 0.3 ? `a photo of ${caption}.` : caption };
}

/** A pattern filling the image: what texture datasets show. */
function textureScene(rng: SeededRng): CaptionedScene {
  const texture = pick(rng, PATTERNED);
  const [first, second] = colourPair(rng);
  const word = pick(rng, TEXTURE_WORDS[texture]);
  const caption = pick(rng, [
    `a ${first} and ${second} ${word} pattern`,
    `a ${word} texture`,
    `a photo of a ${word} pattern.`,
    `${word}`,
  ]);
  return {
    paints: [{
      kind: "fill",
      pattern: texturePattern(rng, texture, [COLOURS[first], COLOURS[second]]),
    }],
    caption,
  };
}

/** A digit drawn in a colour on a background. */
function digitScene(rng: SeededRng): CaptionedScene {
  const digit = rng.nextInt(10);
  const [colour, background] = colourPair(rng);
  const paints: Paint[] = [
    { kind: "fill", pattern: plain(shade(rng, COLOURS[background])) },
    digitPaint(rng, digit, shade(rng, COLOURS[colour])),
  ];
  const caption = pick(rng, [
    `the number ${digit}`,
    `the number ${NUMBER_WORDS[digit]}`,
    `${article(colour)} ${digit} on ${article(background)} background`,
    `a photo of the digit ${NUMBER_WORDS[digit]}.`,
  ]);
  return { paints, caption };
}

/** A handwritten-looking digit: position, height, stroke and slant vary. */
export function digitPaint(rng: SeededRng, digit: number, colour: Rgb, scale = 1): Paint {
  return {
    kind: "digit",
    digit,
    x: 0.5 + rng.uniform(-0.08, 0.08),
    y: 0.5 + rng.uniform(-0.06, 0.06),
    size: scale * rng.uniform(0.62, 0.8),
    stroke: scale * rng.uniform(0.08, 0.13),
    slant: rng.uniform(-0.25, 0.25),
    pattern: plain(colour),
  };
}

/** A random scene of generic concepts and its caption (objects 60%, textures 25%, digits 15%). */
export function attributeScene(rng: SeededRng): CaptionedScene {
  const draw = rng.nextFloat();
  if (draw < 0.6) return objectScene(rng);
  if (draw < 0.85) return textureScene(rng);
  return digitScene(rng);
}

/** Caption words the generic scenes use, for a tokenizer to learn them as whole tokens. */
export function vocabularyCorpus(): string[] {
  const shapes = Object.values(SHAPE_WORDS).flat();
  return [
    ...COLOUR_NAMES,
    ...shapes,
    ...Object.values(TEXTURE_WORDS).flat(),
    ...NUMBER_WORDS,
    ...POSITIONS.map((position) => position.words),
    "a an the of on and small large photo pattern texture background number digit",
    "0 1 2 3 4 5 6 7 8 9",
  ];
}
