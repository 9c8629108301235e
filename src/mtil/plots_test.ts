import assert from "node:assert/strict";
import { order } from "./benchmark.ts";
import { accuracyMatrixSvg, expertActivationSvg, sumActivations } from "./plots.ts";

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** The texts of a group of SVG marks, e.g. the cell annotations or the axis labels. */
function markTexts(svg: string, role: string): string[] {
  const groups = svg.split(`class="mark-text role-${role}`).slice(1);
  return groups.flatMap((group) => {
    const body = group.slice(0, group.indexOf("</g>"));
    return [...body.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]!);
  });
}

Deno.test("accuracyMatrixSvg() draws 12 x 11 annotated cells with every dataset labelled", async () => {
  const tasks = order("I").tasks;
  const values = tasks.map((_, i) => tasks.map((_, j) => 50 + i + j / 10));
  const svg = await accuracyMatrixSvg({
    source: "test",
    tasks,
    values,
    zeroShot: tasks.map(() => 42),
  });
  assert.ok(svg.startsWith("<svg"));
  assert.equal(count(svg, 'aria-roledescription="rect mark"'), 12 * 11);
  const annotations = markTexts(svg, "mark");
  assert.equal(annotations.length, 12 * 11);
  assert.equal(annotations.filter((text) => text === "42.0").length, 11); // the zero-shot row
  assert.ok(annotations.includes("60.3")); // after task 11 (row 10), dataset 4: 50 + 10 + 0.3
  const labels = markTexts(svg, "axis-label");
  for (const name of ["Aircraft", "Cars", "SUN397", "zero-shot", "11. SUN397"]) {
    assert.ok(labels.includes(name), `missing axis label ${name}`);
  }
});

Deno.test("sumActivations() sums counts per encoder: vision modules apart from text modules", () => {
  const panels = sumActivations([
    {
      "visual.blocks.0.q": [1, 2, 3],
      "visual.blocks.1.q": [10, 0, 0],
      "text.blocks.0.q": [0, 5, 0],
    },
    {
      "visual.blocks.0.q": [0, 0, 1],
      "visual.blocks.1.q": [0, 0, 1],
      "text.blocks.0.q": [2, 0, 0],
    },
  ]);
  assert.deepEqual(panels.get("vision"), [[11, 2, 3], [0, 0, 2]]);
  assert.deepEqual(panels.get("text"), [[0, 5, 0], [2, 0, 0]]);
  const summed = sumActivations([{ "visual.a": [1, 1], "b": [2, 0] }], { groupBy: null });
  assert.deepEqual([...summed], [["all modules", [[3, 1]]]]);
  assert.throws(
    () => sumActivations([{ a: [1, 2], b: [1] }]),
    /module "b" have 1 experts, expected 2/,
  );
});

Deno.test("expertActivationSvg() draws tasks x experts cells per encoder, annotated with vote shares", async () => {
  const tasks = ["Aircraft", "Caltech101", "CIFAR100"];
  // Task t votes only for expert t in the vision encoder: a 100% cell on the diagonal.
  const perTask = tasks.map((_, t) => ({
    "visual.transformer.resblocks.0.attn.q": Array.from(
      { length: 12 },
      (_, e) => (e === t ? 8 : 0),
    ),
    "transformer.resblocks.0.attn.q": Array.from({ length: 12 }, () => 1),
  }));
  const svg = await expertActivationSvg(tasks, perTask);
  assert.equal(count(svg, 'aria-roledescription="rect mark"'), 2 * 3 * 12);
  const annotations = markTexts(svg, "mark");
  assert.equal(annotations.length, 2 * 3 * 12);
  assert.equal(annotations.filter((text) => text === "100").length, 3);
  assert.equal(annotations.filter((text) => text === "8").length, 3 * 12); // 1/12 of the text votes
  const labels = markTexts(svg, "axis-label");
  assert.ok(labels.includes("1. Aircraft") && labels.includes("3. CIFAR100"));
  assert.ok(svg.includes(">vision<") && svg.includes(">text<"));
});

Deno.test("the same plot renders to the same bytes however many plots the process drew before", async () => {
  const matrix = { source: "test", tasks: ["DTD", "EuroSAT"], values: [[60, 20], [55, 70]] };
  const first = await accuracyMatrixSvg({ ...matrix, zeroShot: [40, 30] });
  const second = await accuracyMatrixSvg({ ...matrix, zeroShot: [40, 30] });
  assert.equal(second, first);
  assert.ok(first.includes('id="gradient_0"'));
});
