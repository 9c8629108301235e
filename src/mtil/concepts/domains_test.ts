import assert from "node:assert/strict";
import { UserError } from "../../errors.ts";
import { SeededRng } from "../../io/rng.ts";
import { mtilDataset } from "../datasets/registry.ts";
import { writeSyntheticMtil } from "../synthetic.ts";
import {
  CONCEPT_CLASSES,
  CONCEPT_DATASETS,
  CONCEPT_DOMAINS,
  drawClass,
  renderConceptClass,
} from "./domains.ts";

Deno.test("the mini benchmark's class names are what the real readers report for its five datasets", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-concepts-" });
  try {
    await writeSyntheticMtil(root, {
      seed: 0,
      classesPerDataset: CONCEPT_CLASSES,
      imagesPerClass: 1,
      datasets: CONCEPT_DATASETS,
      render: renderConceptClass,
    });
    assert.equal(CONCEPT_DOMAINS.length, 5);
    for (const domain of CONCEPT_DOMAINS) {
      assert.equal(domain.classes.length, CONCEPT_CLASSES, domain.dataset);
      const split = await mtilDataset(domain.dataset).read(root, "test");
      assert.deepEqual(split.classNames, domain.classes.map((concept) => concept.name));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("drawClass() is deterministic, draws MNIST in one channel, and framings differ", () => {
  const [cifar, , , , mnist] = CONCEPT_DOMAINS;
  const draw = (framing: "canonical" | "domain") =>
    drawClass(cifar!, 0, { rng: new SeededRng(4), framing, size: 32, channels: 3 });
  assert.deepEqual(draw("domain"), draw("domain"));
  assert.notDeepEqual(draw("domain"), draw("canonical"));
  const digit = drawClass(mnist!, 7, {
    rng: new SeededRng(4),
    framing: "domain",
    size: 28,
    channels: 1,
  });
  assert.equal(digit.length, 28 * 28);
  // White (blurred) strokes on black: some pixels bright, most dark.
  const bright = digit.filter((value) => value > 120).length;
  assert.ok(bright > 20 && bright < 28 * 28 / 2, `${bright} bright pixels`);
});

Deno.test("renderConceptClass() names the datasets it draws when asked for another", () => {
  assert.throws(
    () =>
      renderConceptClass({
        dataset: "Aircraft",
        classIndex: 0,
        size: 32,
        channels: 3,
        rng: new SeededRng(0),
      }),
    (error) =>
      error instanceof UserError && /CIFAR100, DTD, EuroSAT, Flowers, MNIST/.test(error.message),
  );
});
