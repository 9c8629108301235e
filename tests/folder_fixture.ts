/**
 * A user's setup on disk for the tests that need external inputs: a weights folder (the tiny
 * CLIP the model stage generates, with its tokenizer, in the Hugging Face layout) and a data root
 * holding synthetic DTD and EuroSAT in their torchvision layouts, plus a pipeline that reads them
 * (tests/fixtures/pipelines/tiny.yaml with `model.weights` and `benchmark.root`, three training
 * steps per task, and the repository's reference figures beside its tables).
 */
import { fileURLToPath } from "node:url";
import { writeSyntheticMtil } from "../src/mtil/synthetic.ts";
import { ResourcePool } from "../src/runner/resources.ts";
import { quietJobContext } from "./job_context.ts";
import { STAGE_RUNNERS, STAGES } from "../src/stages/mod.ts";

const TINY = fileURLToPath(new URL("./fixtures/pipelines/tiny.yaml", import.meta.url));
const REFERENCE = fileURLToPath(
  new URL("../configs/benchmarks/mtil/reference.yaml", import.meta.url),
);

export interface FolderSetup {
  weights: string;
  data: string;
  /** The pipeline file reading them. */
  pipeline: string;
}

/** Writes the generated tiny CLIP with weight seed `seed` and its tokenizer into `dir`. */
export async function writeWeightsFolder(dir: string, seed: number): Promise<void> {
  const out = await Deno.makeTempDir({ prefix: "rankone-weights-" });
  try {
    await STAGE_RUNNERS.model.run(
      quietJobContext("model", { outDir: out, resources: new ResourcePool().lease() }),
      STAGES.model.job("model", {
        model: { source: "synthetic", preset: "clip-tiny", seed, tokenizer: null },
      }).params,
    );
    await Deno.mkdir(dir, { recursive: true });
    for (const sub of ["weights", "tokenizer"]) {
      for (const entry of Deno.readDirSync(`${out}/${sub}`)) {
        // copyFile rewrites an existing file in place (same inode), as an editor or a download does.
        await Deno.copyFile(`${out}/${sub}/${entry.name}`, `${dir}/${entry.name}`);
      }
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** Weights, data and the pipeline under `root`. */
export async function writeFolderSetup(root: string): Promise<FolderSetup> {
  const setup = {
    weights: `${root}/weights`,
    data: `${root}/data`,
    pipeline: `${root}/tiny-folders.yaml`,
  };
  await writeWeightsFolder(setup.weights, 0);
  await writeSyntheticMtil(setup.data, {
    seed: 0,
    classesPerDataset: 3,
    imagesPerClass: 6,
    size: 32,
    datasets: ["DTD", "EuroSAT"],
  });
  await Deno.writeTextFile(
    setup.pipeline,
    [
      "name: tiny",
      `extends: [${TINY}]`,
      "model:",
      "  synthetic: null",
      `  weights: ${setup.weights}`,
      "benchmark:",
      "  synthetic: null",
      `  root: ${setup.data}`,
      "train: { steps: 3, iterations: 3 }",
      "report:",
      `  reference: ${REFERENCE}`,
      "",
    ].join("\n"),
  );
  return setup;
}
