/**
 * Stage `data` (offline benchmark only): writes tiny synthetic copies of the MTIL datasets in
 * their real on-disk layouts (annotation files included), so the quickstart exercises the same
 * readers a real data root goes through. Images are class-distinguishable, so training shows.
 * Its run: run/data.ts.
 */
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

/** The args, datasets sorted: the same set gives the same job. */
export type SyntheticDataParams = DataArgs & { datasets: string[] };

export const dataStage = defineStage<DataArgs, SyntheticDataParams>({
  kind: "data",
  version: 1,
  declare(args) {
    return { params: { ...args, datasets: [...args.datasets].sort() }, inputs: {} };
  },
});
