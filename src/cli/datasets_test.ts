import assert from "node:assert/strict";
import { main } from "./datasets.ts";
import { writeSyntheticMtil } from "../mtil/synthetic.ts";

async function runDatasets(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("datasets prints class and image counts per split for a synthetic root", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-cli-datasets-" });
  try {
    await writeSyntheticMtil(root, {
      seed: 1,
      datasets: ["DTD", "EuroSAT"],
      imagesPerClass: 2,
      size: 8,
    });
    const { code, stdout } = await runDatasets(["--root", root, "--name", "dtd"]);
    assert.equal(code, 0);
    assert.deepEqual(stdout.split("\n"), [
      "dataset  folder  classes  train  test  split     status",
      "DTD      dtd     3 of 47      6     6  official  ok",
    ]);
    const euro = await runDatasets(["--root", root, "--name", "EuroSAT", "--split", "test"]);
    assert.equal(euro.stdout.split("\n")[1], "EuroSAT  eurosat  3 of 10     3  random-80-20  ok");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("datasets --list prints path<TAB>label per image in split order", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-cli-datasets-" });
  try {
    await writeSyntheticMtil(root, {
      seed: 1,
      datasets: ["OxfordPet", "MNIST"],
      imagesPerClass: 1,
      size: 8,
    });
    const pets = await runDatasets([
      "--root",
      root,
      "--name",
      "OxfordPet",
      "--list",
      "--split",
      "test",
    ]);
    assert.equal(pets.code, 0);
    assert.deepEqual(pets.stdout.split("\n"), [
      "oxford-iiit-pet/images/Abyssinian_2.jpg\t0",
      "oxford-iiit-pet/images/american_bulldog_2.jpg\t1",
      "oxford-iiit-pet/images/american_pit_bull_terrier_2.jpg\t2",
    ]);
    const mnist = await runDatasets(["--root", root, "--name", "MNIST", "--list"]);
    assert.match(mnist.stdout.split("\n")[0]!, /^MNIST\/raw\/train-images-idx3-ubyte#0\t[012]$/);
    assert.equal(mnist.stdout.split("\n").length, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("datasets reports a missing dataset with its error and exits 1; bad flags exit 2", async () => {
  const root = await Deno.makeTempDir({ prefix: "rankone-cli-datasets-" });
  try {
    const { code, stdout, stderr } = await runDatasets(["--root", root, "--name", "Food"]);
    assert.equal(code, 1);
    assert.match(stdout, /Food +food-101 +- +- +- +official +error/);
    assert.equal(
      stderr,
      `error: Food: missing folder ${root}/food-101/images (expected torchvision layout ` +
        "food-101/{meta/{train,test}.json,images/<class>/<id>.jpg})",
    );
    const all = await runDatasets(["--root", root]);
    assert.equal(all.code, 1);
    assert.equal(all.stderr.split("\n").length, 11);
    assert.equal((await runDatasets(["--root", root, "--bogus"])).code, 2);
    assert.equal((await runDatasets(["--root", root, "--split", "val"])).code, 2);
    assert.equal((await runDatasets([])).code, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
