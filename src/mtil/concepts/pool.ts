/**
 * The concept pool a tiny CLIP is pretrained on: image-caption pairs, half generic scenes of
 * colours, shapes, textures, sizes, positions, counts and digits (`attributeScene`), half the
 * mini benchmark's classes drawn canonically and captioned by their name (in one of their
 * dataset's prompt templates, or bare) or by their description in pool words. Deterministic from
 * the generator passed in.
 */
import type { SeededRng } from "../../io/rng.ts";
import { datasetInfo } from "../benchmark.ts";
import { classPaints, CONCEPT_DOMAINS } from "./domains.ts";
import { renderScene } from "./render.ts";
import { attributeScene, type CaptionedScene, pick, vocabularyCorpus } from "./vocabulary.ts";

/** Share of pretraining pairs that show one of the benchmark's classes. */
export const CLASS_SHARE = 0.5;

/** A benchmark class drawn canonically, with a caption naming or describing it. */
export function classScene(rng: SeededRng): CaptionedScene {
  const domain = pick(rng, CONCEPT_DOMAINS);
  const classIndex = rng.nextInt(domain.classes.length);
  const concept = domain.classes[classIndex]!;
  const paints = classPaints(domain, classIndex, { rng, framing: "canonical" });
  const draw = rng.nextFloat();
  const caption = draw < 0.45
    ? pick(rng, datasetInfo(domain.dataset).templates).replaceAll("{}", concept.name)
    : draw < 0.65
    ? concept.name
    : concept.description;
  return { paints, caption };
}

export interface PretrainingPair {
  /** RGB bytes [size, size, 3]. */
  pixels: Uint8Array;
  caption: string;
}

/** One pretraining pair: a benchmark class with probability `CLASS_SHARE`, else a generic scene. */
export function pretrainingPair(rng: SeededRng, size: number): PretrainingPair {
  const scene = rng.nextFloat() < CLASS_SHARE ? classScene(rng) : attributeScene(rng);
  return { pixels: renderScene(scene.paints, { size, noise: 6, rng }), caption: scene.caption };
}

/**
 * Texts a tokenizer for the pool learns its merges from: the pool's words, every class name and
 * description, and the domains' prompt templates, so each word is one token.
 */
export function poolCorpus(): string[] {
  return [
    ...vocabularyCorpus(),
    ...CONCEPT_DOMAINS.flatMap((domain) => [
      ...datasetInfo(domain.dataset).templates,
      ...domain.classes.flatMap((concept) => [concept.name, concept.description]),
    ]),
  ];
}
