/**
 * The quickstart reduced for tests (three of its five domains, 8 images a class, 6 steps a task,
 * one plot): the same model, benchmark kind and stages as a user's first run, in about a sixth of
 * the work.
 */
import { fileURLToPath } from "node:url";

export const QUICKSTART = fileURLToPath(new URL("../pipelines/quickstart.yaml", import.meta.url));

/** The reductions as `--set` assignments (`compileSpec`'s `set`). */
export const QUICKSTART_REDUCTIONS = [
  "benchmark.datasets=[DTD,EuroSAT,Flowers]",
  "benchmark.synthetic.images_per_class=8",
  "train.steps=6",
  "train.iterations=5",
  "report.plots=[accuracy-matrix]",
];

/** The reductions as CLI arguments for `deno task run`. */
export const QUICKSTART_REDUCED_ARGS = QUICKSTART_REDUCTIONS.flatMap((set) => ["--set", set]);
