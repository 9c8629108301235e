/**
 * The mini benchmark's domains: five MTIL datasets whose first ten classes are drawn from the
 * concept pool, so that each class name stands for something a pretrained tiny CLIP can know
 * ("pink primrose": a pink flower with five petals; "river": a blue wavy band across green).
 * The domains share colours, shapes and textures (DTD's "banded" is EuroSAT's crop stripes; a
 * bee is a striped oval, a tiger lily a dotted star), so training one can move what another uses.
 *
 * Each class has a drawing and a description in pool words, and is drawn with the same spread of
 * position, size, backgrounds and clutter for pretraining (`framing: "canonical"`) and for the
 * benchmark (`framing: "domain"`). Three datasets add a look of their own, which pretraining never
 * shows: CIFAR in an old camera's cold colours, EuroSAT through haze, Flowers in evening light.
 * That systematic shift is a gap five shots can close (the tiny model memorised five shots of
 * random clutter, or of blur or low contrast, and stayed at its zero-shot accuracy); DTD and MNIST
 * (grey on disk) look as pretraining drew them, so their zero-shot accuracy is what it learned.
 */
import { UserError } from "../../errors.ts";
import type { SeededRng } from "../../io/rng.ts";
import type { MtilDataset } from "../benchmark.ts";
import type { ClassRenderer } from "../synthetic.ts";
import {
  addNoise,
  type Paint,
  type Pattern,
  plain,
  renderScene,
  type Rgb,
  type Shape,
} from "./render.ts";
import {
  COLOUR_NAMES,
  colourPair,
  COLOURS,
  digitPaint,
  NUMBER_WORDS,
  pick,
  shade,
  texturePattern,
} from "./vocabulary.ts";

export type Framing = "canonical" | "domain";

/** Where and how large a domain's main object is drawn. */
interface Placement {
  x: number;
  y: number;
  /** Multiplies the recipe's sizes. */
  scale: number;
  framing: Framing;
}

export interface ConceptClass {
  /** The class name exactly as the dataset's reader reports it. */
  name: string;
  /** What it looks like, in the concept pool's words. */
  description: string;
  draw(rng: SeededRng, at: Placement): Paint[];
}

export interface ConceptDomain {
  dataset: MtilDataset;
  /** Channels the dataset's files hold (MNIST is greyscale). */
  channels: 1 | 3;
  classes: readonly ConceptClass[];
  /** Background and clutter around the class's own paints (the same in both framings). */
  frame(rng: SeededRng, classPaints: Paint[]): Paint[];
  /**
   * The dataset's look, applied to its benchmark images only (RGB [size, size, 3], in place);
   * absent: the benchmark shows the classes as pretraining did.
   */
  style?: { name: string; apply(rgb: Uint8Array, size: number): void };
}

const DARK_GREEN: Rgb = [30, 100, 40];
const LIGHT_GREEN: Rgb = [125, 200, 95];
const OLIVE: Rgb = [115, 120, 50];
const LIGHT_PURPLE: Rgb = [195, 130, 215];
const DARK_BLUE: Rgb = [35, 45, 140];
const DARK_ORANGE: Rgb = [200, 90, 20];

function shape(
  rng: SeededRng,
  kind: Shape,
  options: {
    x: number;
    y: number;
    size: number;
    colour: Rgb;
    rotation?: number;
    points?: number;
    pattern?: Pattern;
  },
): Paint {
  return {
    kind: "shape",
    shape: kind,
    x: options.x,
    y: options.y,
    size: options.size,
    rotation: options.rotation ?? 0,
    points: options.points,
    pattern: options.pattern ?? plain(shade(rng, options.colour)),
  };
}

/** Two equal shapes at x - dx and x + dx (left first). */
function mirrored(
  rng: SeededRng,
  kind: Shape,
  options: { x: number; y: number; dx: number; size: number; colour: Rgb },
): Paint[] {
  const { x, dx, ...rest } = options;
  return [shape(rng, kind, { ...rest, x: x - dx }), shape(rng, kind, { ...rest, x: x + dx })];
}

function fill(pattern: Pattern): Paint {
  return { kind: "fill", pattern };
}

function flat(rng: SeededRng, colour: Rgb): Paint {
  return fill(plain(shade(rng, colour, 12)));
}

/** A class drawn as one object (or a few parts) around the placement's centre. */
function objectClass(
  name: string,
  description: string,
  parts: (rng: SeededRng, at: Placement, s: number) => Paint[],
): ConceptClass {
  return { name, description, draw: (rng, at) => parts(rng, at, at.scale) };
}

/** A class that fills the whole image with a pattern of two colours. */
function patternClass(
  name: string,
  description: string,
  pattern: (rng: SeededRng, at: Placement) => Pattern,
  extra: (rng: SeededRng, at: Placement) => Paint[] = () => [],
): ConceptClass {
  return { name, description, draw: (rng, at) => [fill(pattern(rng, at)), ...extra(rng, at)] };
}

/** A few small shapes of other colours: the clutter of photos taken in the wild. */
function distractors(rng: SeededRng, count: number): Paint[] {
  return Array.from({ length: count }, () => {
    const corner = pick(rng, [[0.13, 0.13], [0.87, 0.13], [0.13, 0.87], [0.87, 0.87]]);
    return shape(rng, pick(rng, ["circle", "square", "triangle", "diamond"] as const), {
      x: corner[0]! + rng.uniform(-0.04, 0.04),
      y: corner[1]! + rng.uniform(-0.04, 0.04),
      size: rng.uniform(0.06, 0.1),
      colour: COLOURS[pick(rng, COLOUR_NAMES)],
    });
  });
}

const CIFAR100: ConceptDomain = {
  dataset: "CIFAR100",
  channels: 3,
  frame(rng, paints) {
    const [first, second] = colourPair(rng);
    const background = rng.nextFloat() < 0.5
      ? flat(rng, COLOURS[first])
      : fill(texturePattern(rng, "blotchy", [COLOURS[first], COLOURS[second]], { scale: 0.4 }));
    // A recipe's own background (the fish's water) stays.
    const own = paints[0]?.kind === "fill";
    return [...(own ? [] : [background]), ...paints, ...distractors(rng, rng.nextInt(3))];
  },
  // An old camera's cold colours.
  style: { name: "cold cast (x 0.55, 0.9, 1)", apply: (rgb) => tint(rgb, [0.55, 0.9, 1]) },
  classes: [
    objectClass("apple", "a red circle with a green leaf", (rng, { x, y }, s) => [
      shape(rng, "circle", { x, y: y + 0.04, size: 0.27 * s, colour: COLOURS.red }),
      shape(rng, "oval", {
        x: x + 0.1 * s,
        y: y - 0.25 * s,
        size: 0.11 * s,
        colour: COLOURS.green,
        rotation: -0.5,
      }),
    ]),
    objectClass("aquarium fish", "an orange fish on a blue background", (rng, { x, y }, s) => [
      flat(rng, COLOURS.blue),
      shape(rng, "oval", { x: x - 0.05, y, size: 0.25 * s, colour: COLOURS.orange }),
      shape(rng, "triangle", {
        x: x + 0.25 * s,
        y,
        size: 0.14 * s,
        colour: COLOURS.orange,
        rotation: -Math.PI / 2,
      }),
    ]),
    objectClass("baby", "a pink face with two black eyes", (rng, { x, y }, s) => [
      shape(rng, "circle", { x, y, size: 0.3 * s, colour: COLOURS.pink }),
      ...mirrored(rng, "circle", {
        x,
        y: y - 0.05 * s,
        dx: 0.1 * s,
        size: 0.045 * s,
        colour: COLOURS.black,
      }),
    ]),
    objectClass("bear", "a brown circle with two round ears", (rng, { x, y }, s) => [
      ...mirrored(rng, "circle", {
        x,
        y: y - 0.2 * s,
        dx: 0.2 * s,
        size: 0.11 * s,
        colour: COLOURS.brown,
      }),
      shape(rng, "circle", { x, y: y + 0.03, size: 0.26 * s, colour: COLOURS.brown }),
    ]),
    objectClass("beaver", "a brown oval with a flat black tail", (rng, { x, y }, s) => [
      shape(rng, "bar", {
        x: x + 0.24 * s,
        y: y + 0.06 * s,
        size: 0.14 * s,
        colour: COLOURS.black,
        rotation: 0.4,
      }),
      shape(rng, "oval", { x: x - 0.06 * s, y, size: 0.26 * s, colour: COLOURS.brown }),
    ]),
    objectClass("bed", "a blue bar with a white square", (rng, { x, y }, s) => [
      shape(rng, "bar", { x, y, size: 0.36 * s, colour: COLOURS.blue }),
      shape(rng, "square", { x: x - 0.24 * s, y: y - 0.02, size: 0.1 * s, colour: COLOURS.white }),
    ]),
    objectClass("bee", "a yellow and black striped oval", (rng, { x, y }, s) => [
      shape(rng, "oval", {
        x: x - 0.06 * s,
        y: y - 0.17 * s,
        size: 0.12 * s,
        colour: COLOURS.white,
        rotation: 0.6,
      }),
      shape(rng, "oval", {
        x,
        y,
        size: 0.27 * s,
        colour: COLOURS.yellow,
        pattern: {
          ...texturePattern(rng, "striped", [COLOURS.yellow, COLOURS.black], { scale: 0.13 * s }),
          angle: Math.PI / 2,
        },
      }),
    ]),
    objectClass("beetle", "a red oval with black dots", (rng, { x, y }, s) => [
      shape(rng, "oval", {
        x,
        y,
        size: 0.27 * s,
        colour: COLOURS.red,
        rotation: Math.PI / 2,
        pattern: texturePattern(rng, "dotted", [COLOURS.red, COLOURS.black], { scale: 0.12 * s }),
      }),
    ]),
    objectClass("bicycle", "two black rings side by side", (rng, { x, y }, s) => [
      ...mirrored(rng, "ring", {
        x,
        y: y + 0.05,
        dx: 0.2 * s,
        size: 0.16 * s,
        colour: COLOURS.black,
      }),
      shape(rng, "bar", { x, y: y - 0.04, size: 0.16 * s, colour: COLOURS.black }),
    ]),
    objectClass("bottle", "a tall green bar with a narrow neck", (rng, { x, y }, s) => [
      shape(rng, "bar", {
        x,
        y: y - 0.28 * s,
        size: 0.12 * s,
        colour: COLOURS.green,
        rotation: Math.PI / 2,
      }),
      shape(rng, "bar", {
        x,
        y: y + 0.08 * s,
        size: 0.28 * s,
        colour: COLOURS.green,
        rotation: Math.PI / 2,
      }),
    ]),
  ],
};

/** DTD's first ten classes and the pool texture each name stands for. */
const DTD_TEXTURES = [
  ["banded", "striped"],
  ["blotchy", "blotchy"],
  ["braided", "zigzag"],
  ["bubbly", "bubbly"],
  ["bumpy", "dotted"],
  ["chequered", "checkered"],
  ["cobwebbed", "webbed"],
  ["cracked", "cracked"],
  ["crosshatched", "crosshatched"],
  ["crystalline", "crystalline"],
] as const;

const DTD: ConceptDomain = {
  dataset: "DTD",
  channels: 3,
  frame: (_rng, paints) => paints,
  classes: DTD_TEXTURES.map(([name, texture]) =>
    patternClass(name, `a ${texture === "webbed" ? "cobwebbed" : texture} pattern`, (rng, at) => {
      const [first, second] = colourPair(rng);
      return texturePattern(rng, texture, [COLOURS[first], COLOURS[second]], {
        scale: rng.uniform(0.15, 0.3) * at.scale,
      });
    })
  ),
};

/** Any rotation from above: satellite images have no up. */
function heading(rng: SeededRng, _at: Placement): number {
  return rng.uniform(0, Math.PI);
}

function rotated(pattern: Pattern, angle: number): Pattern {
  return { ...pattern, angle };
}

const EUROSAT: ConceptDomain = {
  dataset: "EuroSAT",
  channels: 3,
  frame: (_rng, paints) => paints,
  // Seen through the atmosphere: 40% of every pixel is a blue-grey haze.
  style: { name: "hazy (40% blue-grey)", apply: (rgb) => blend(rgb, [165, 175, 195], 0.4) },
  classes: [
    patternClass(
      "annual crop land",
      "yellow and green stripes",
      (rng, at) =>
        rotated(
          texturePattern(rng, "striped", [COLOURS.yellow, LIGHT_GREEN], { scale: 0.25 }),
          heading(rng, at),
        ),
    ),
    patternClass(
      "forest",
      "a blotchy dark green pattern",
      (rng) => texturePattern(rng, "blotchy", [DARK_GREEN, COLOURS.green], { scale: 0.2 }),
    ),
    patternClass(
      "brushland or shrubland",
      "a blotchy brown and green pattern",
      (rng) => texturePattern(rng, "blotchy", [COLOURS.brown, OLIVE], { scale: 0.15 }),
    ),
    patternClass(
      "highway or road",
      "a grey road across a green field",
      (rng) => plain(shade(rng, LIGHT_GREEN)),
      (rng, at) => [{
        kind: "band",
        angle: heading(rng, at),
        offset: rng.uniform(-0.15, 0.15),
        width: 0.16,
        wave: 0,
        pattern: plain(shade(rng, COLOURS.grey)),
      }],
    ),
    patternClass(
      "industrial buildings or commercial buildings",
      "large white squares on grey",
      (rng) => plain(shade(rng, COLOURS.grey)),
      (rng) =>
        [[0.28, 0.28], [0.72, 0.3], [0.3, 0.72], [0.7, 0.7]].map(([x, y]) =>
          shape(rng, "square", {
            x: x! + rng.uniform(-0.04, 0.04),
            y: y! + rng.uniform(-0.04, 0.04),
            size: rng.uniform(0.13, 0.18),
            colour: COLOURS.white,
          })
        ),
    ),
    patternClass(
      "pasture land",
      "a plain light green field",
      (rng) => plain(shade(rng, LIGHT_GREEN)),
    ),
    patternClass(
      "permanent crop land",
      "green dots on brown",
      (rng, at) =>
        rotated(
          texturePattern(rng, "dotted", [COLOURS.brown, COLOURS.green], { scale: 0.16 }),
          heading(rng, at),
        ),
    ),
    patternClass(
      "residential buildings or homes or apartments",
      "many small red squares on grey",
      (rng) => plain(shade(rng, COLOURS.grey)),
      (rng) =>
        Array.from({ length: 9 }, (_, i) =>
          shape(rng, "square", {
            x: 0.2 + 0.3 * (i % 3) + rng.uniform(-0.05, 0.05),
            y: 0.2 + 0.3 * Math.floor(i / 3) + rng.uniform(-0.05, 0.05),
            size: rng.uniform(0.06, 0.08),
            colour: pick(rng, [COLOURS.red, COLOURS.orange]),
          })),
    ),
    patternClass(
      "river",
      "a blue wavy river across green",
      (rng) => plain(shade(rng, COLOURS.green)),
      (rng, at) => [{
        kind: "band",
        angle: heading(rng, at),
        offset: rng.uniform(-0.12, 0.12),
        width: 0.15,
        wave: rng.uniform(0.08, 0.14),
        pattern: plain(shade(rng, COLOURS.blue)),
      }],
    ),
    patternClass(
      "lake or sea",
      "blue water with a green shore",
      (rng) => plain(shade(rng, COLOURS.blue)),
      (rng) => {
        const angle = rng.uniform(0, 2 * Math.PI);
        return [shape(rng, "circle", {
          x: 0.5 + 0.95 * Math.cos(angle),
          y: 0.5 + 0.95 * Math.sin(angle),
          size: 0.6,
          colour: COLOURS.green,
        })];
      },
    ),
  ],
};

function flower(
  rng: SeededRng,
  at: Placement,
  options: { petals: number; colour: Rgb; centre: Rgb; size?: number },
): Paint[] {
  const size = (options.size ?? 0.3) * at.scale;
  return [
    shape(rng, "flower", {
      x: at.x,
      y: at.y,
      size,
      colour: options.colour,
      points: options.petals,
      rotation: rng.uniform(0, Math.PI),
    }),
    shape(rng, "circle", { x: at.x, y: at.y, size: size * 0.28, colour: options.centre }),
  ];
}

const FLOWERS: ConceptDomain = {
  dataset: "Flowers",
  channels: 3,
  frame(rng, paints) {
    const leaves = rng.nextFloat() < 0.5
      ? flat(rng, COLOURS.green)
      : fill(texturePattern(rng, "blotchy", [COLOURS.green, DARK_GREEN], { scale: 0.3 }));
    return [leaves, ...paints];
  },
  // Photographed in evening light: darker, warmer.
  style: {
    name: "evening light (x 0.85, 0.7, 0.55)",
    apply: (rgb) => tint(rgb, [0.85, 0.7, 0.55]),
  },
  classes: [
    objectClass(
      "pink primrose",
      "a pink flower with five petals",
      (rng, at) => flower(rng, at, { petals: 5, colour: COLOURS.pink, centre: COLOURS.yellow }),
    ),
    objectClass(
      "hard-leaved pocket orchid",
      "a purple flower with three petals",
      (rng, at) => flower(rng, at, { petals: 3, colour: COLOURS.purple, centre: COLOURS.white }),
    ),
    objectClass(
      "canterbury bells",
      "purple triangles pointing down",
      (rng, { x, y }, s) =>
        [-0.18, 0.18].map((dx, i) =>
          shape(rng, "triangle", {
            x: x + dx * s,
            y: y + (i === 0 ? -0.1 : 0.1) * s,
            size: 0.17 * s,
            colour: COLOURS.purple,
            rotation: Math.PI,
          })
        ),
    ),
    objectClass(
      "sweet pea",
      "a light purple flower with two petals",
      (rng, at) => flower(rng, at, { petals: 2, colour: LIGHT_PURPLE, centre: COLOURS.pink }),
    ),
    objectClass(
      "english marigold",
      "an orange flower with many petals",
      (rng, at) => flower(rng, at, { petals: 12, colour: COLOURS.orange, centre: DARK_ORANGE }),
    ),
    objectClass("tiger lily", "an orange star with black dots", (rng, { x, y }, s) => [
      shape(rng, "star", {
        x,
        y,
        size: 0.32 * s,
        colour: COLOURS.orange,
        points: 6,
        rotation: rng.uniform(0, 1),
        pattern: texturePattern(rng, "dotted", [COLOURS.orange, COLOURS.black], {
          scale: 0.1 * s,
        }),
      }),
    ]),
    objectClass(
      "moon orchid",
      "a white flower with five petals",
      (rng, at) => flower(rng, at, { petals: 5, colour: COLOURS.white, centre: COLOURS.pink }),
    ),
    objectClass("bird of paradise", "an orange and blue pointed flower", (rng, { x, y }, s) => [
      shape(rng, "triangle", {
        x: x - 0.08 * s,
        y,
        size: 0.26 * s,
        colour: COLOURS.orange,
        rotation: -0.9,
      }),
      shape(rng, "triangle", {
        x: x + 0.12 * s,
        y: y + 0.05 * s,
        size: 0.17 * s,
        colour: COLOURS.blue,
        rotation: 0.9,
      }),
    ]),
    objectClass(
      "monkshood",
      "dark blue circles in a column",
      (rng, { x, y }, s) =>
        [-0.24, 0, 0.24].map((dy) =>
          shape(rng, "circle", { x, y: y + dy * s, size: 0.11 * s, colour: DARK_BLUE })
        ),
    ),
    objectClass("globe thistle", "a blue spiky ball", (rng, { x, y }, s) => [
      shape(rng, "star", { x, y, size: 0.3 * s, colour: COLOURS.blue, points: 14 }),
    ]),
  ],
};

const MNIST: ConceptDomain = {
  dataset: "MNIST",
  channels: 1,
  frame: (rng, paints) => [flat(rng, COLOURS.black), ...paints],
  classes: NUMBER_WORDS.map((word, digit) => ({
    name: `${digit} - ${word}`,
    description: `the number ${word}`,
    draw: (rng: SeededRng, at: Placement) => [digitPaint(rng, digit, COLOURS.white, at.scale)],
  })),
};

/**
 * Version of the drawings: the data job's params carry it, so changing how any class or style
 * is drawn (bump it then) rewrites the benchmark instead of reusing a cached copy.
 */
export const CONCEPT_DRAWINGS_VERSION = 1;

/** The mini benchmark's domains, in MTIL Order I. */
export const CONCEPT_DOMAINS: readonly ConceptDomain[] = [CIFAR100, DTD, EUROSAT, FLOWERS, MNIST];

/** The datasets concept images exist for. */
export const CONCEPT_DATASETS: readonly MtilDataset[] = CONCEPT_DOMAINS.map((domain) =>
  domain.dataset
);

/** Classes each concept domain draws (its dataset's first ones). */
export const CONCEPT_CLASSES = 10;

export function conceptDomain(dataset: string): ConceptDomain | undefined {
  return CONCEPT_DOMAINS.find((domain) => domain.dataset === dataset);
}

/** Pixel noise amplitude (0-255 scale) of every drawing. */
const NOISE = 8;

/** Where the main object sits and how large: the same spread in both framings. */
function placement(rng: SeededRng, framing: Framing): Placement {
  return {
    framing,
    x: 0.5 + rng.uniform(-0.1, 0.1),
    y: 0.5 + rng.uniform(-0.1, 0.1),
    scale: rng.uniform(0.8, 1.08),
  };
}

/** v <- (1 - amount) v + amount colour. */
function blend(rgb: Uint8Array, colour: Rgb, amount: number): void {
  for (let i = 0; i < rgb.length; i++) {
    rgb[i] = Math.round((1 - amount) * rgb[i]! + amount * colour[i % 3]!);
  }
}

/** Each channel scaled by its factor. */
function tint(rgb: Uint8Array, factors: readonly [number, number, number]): void {
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(rgb[i]! * factors[i % 3]!);
}

/** Paints of class `classIndex` of `domain` in a framing. */
export function classPaints(
  domain: ConceptDomain,
  classIndex: number,
  options: { rng: SeededRng; framing: Framing },
): Paint[] {
  const concept = domain.classes[classIndex];
  if (concept === undefined) {
    throw new RangeError(
      `${domain.dataset} has ${domain.classes.length} concept classes, not ${classIndex + 1}`,
    );
  }
  const { rng, framing } = options;
  return domain.frame(rng, concept.draw(rng, placement(rng, framing)));
}

/**
 * One image of a class as the dataset's files hold it: RGB [size, size, 3], or grey [size, size]
 * for a one-channel dataset.
 */
export function drawClass(
  domain: ConceptDomain,
  classIndex: number,
  options: { rng: SeededRng; framing: Framing; size: number; channels: 1 | 3 },
): Uint8Array {
  const { rng, framing, size } = options;
  const rgb = renderScene(classPaints(domain, classIndex, { rng, framing }), { size });
  if (framing === "domain") domain.style?.apply(rgb, size);
  addNoise(rgb, NOISE, rng);
  if (options.channels === 3) return rgb;
  const grey = new Uint8Array(size * size);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.round(0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  }
  return grey;
}

/** The synthetic writers' renderer for the mini benchmark: each class in its dataset's framing. */
export const renderConceptClass: ClassRenderer = ({ dataset, classIndex, size, channels, rng }) => {
  const domain = conceptDomain(dataset);
  if (domain === undefined) {
    throw new UserError(
      `No concept images for ${dataset}: the mini benchmark draws ${CONCEPT_DATASETS.join(", ")}`,
    );
  }
  return drawClass(domain, classIndex, { rng, framing: "domain", size, channels });
};
