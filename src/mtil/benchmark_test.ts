import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { UserError } from "../errors.ts";
import { datasetInfo, displayName, MTIL_DATASETS, order } from "./benchmark.ts";

Deno.test("the 11 MTIL datasets carry their class counts, split sizes and templates", () => {
  assert.equal(MTIL_DATASETS.length, 11);
  const classes = MTIL_DATASETS.map((name) => datasetInfo(name).classes);
  assert.deepEqual(classes, [100, 101, 100, 47, 10, 102, 101, 10, 37, 196, 397]);
  const caltech = datasetInfo("Caltech101");
  assert.equal(caltech.classnames?.length, 101);
  assert.equal(caltech.templates.length, 34);
  assert.deepEqual([caltech.trainSize, caltech.testSize], [6941, 1736]);
  assert.equal(datasetInfo("EuroSAT").classnames?.length, 10);
  assert.equal(datasetInfo("Flowers").classnames?.length, 102);
  assert.equal(datasetInfo("Aircraft").classnames, null); // read from the dataset's files
  assert.deepEqual(datasetInfo("Aircraft").templates, [
    "a photo of a {}, a type of aircraft.",
    "a photo of the {}, a type of aircraft.",
  ]);
  assert.equal(displayName("StanfordCars"), "Cars");
  assert.throws(() => datasetInfo("ImageNet"), UserError);
});

Deno.test("Order I is alphabetical; Order II starts with StanfordCars and has 11 learning rates", () => {
  assert.deepEqual(order("I").tasks, [...MTIL_DATASETS]);
  assert.equal(order("I").learningRates, null);
  const second = order("II");
  assert.deepEqual(second.tasks, [
    "StanfordCars",
    "Food",
    "MNIST",
    "OxfordPet",
    "Flowers",
    "SUN397",
    "Aircraft",
    "Caltech101",
    "DTD",
    "EuroSAT",
    "CIFAR100",
  ]);
  assert.deepEqual(second.learningRates, [
    2e-3,
    2e-3,
    1e-3,
    2e-3,
    2e-3,
    2e-3,
    3e-3,
    2e-3,
    2e-3,
    1e-3,
    3e-3,
  ]);
  assert.deepEqual([...second.tasks].sort(), [...MTIL_DATASETS].sort());
  assert.throws(() => order("III"), /Unknown MTIL order "III"/);
});

Deno.test(
  "classnames.json repeats the shared templates and hand-fixed class names exactly",
  needsShared("mtil/classnames_templates.json"),
  async () => {
    const shared = JSON.parse(
      await Deno.readTextFile(sharedPath("mtil/classnames_templates.json")!),
    ) as Record<string, { templates: string[]; classnames?: string[] }>;
    for (const name of MTIL_DATASETS) {
      const info = datasetInfo(name);
      assert.deepEqual(info.templates, shared[name]!.templates, name);
      assert.deepEqual(info.classnames, shared[name]!.classnames ?? null, name);
    }
  },
);
