/**
 * Stage `data` (offline benchmark only): writes tiny synthetic copies of the MTIL datasets in
 * their real on-disk layouts (annotation files included), so the quickstart exercises the same
 * readers a real data root goes through. Images are class-distinguishable, so training shows.
 * Its run: run/data.ts.
 */
import { CONCEPT_DRAWINGS_VERSION } from "../mtil/concepts/domains.ts";
import type { SyntheticImageKind } from "../spec/types.ts";
import { defineStage } from "./common.ts";

export interface DataArgs {
  datasets: readonly string[];
  classes: number;
  imagesPerClass: number;
  size: number;
  seed: number;
  /** `concepts`: the mini benchmark's concept drawings; `stripes`: a pattern per class. */
  images: SyntheticImageKind;
}

/**
 * The args, datasets sorted (the same set gives the same job), and for concept images the
 * drawings' version.
 */
export type SyntheticDataParams = DataArgs & { datasets: string[]; drawings?: number };

export const dataStage = defineStage<DataArgs, SyntheticDataParams>({
  kind: "data",
  version: 1,
  declare(args) {
    const params = { ...args, datasets: [...args.datasets].sort() };
    // Concept drawings carry their version: a change to how classes are drawn rewrites them.
    if (args.images === "concepts") {
      return { params: { ...params, drawings: CONCEPT_DRAWINGS_VERSION }, inputs: {} };
    }
    return { params, inputs: {} };
  },
});
