/**
 * Stage `data` (offline benchmark only): writes tiny synthetic copies of the MTIL datasets in
 * their real on-disk layouts (annotation files included), so the quickstart exercises the same
 * readers a real data root goes through. Images are class-distinguishable, so training shows.
 */
import { writeSyntheticMtil } from "../mtil/synthetic.ts";
import type { MtilDataset } from "../mtil/benchmark.ts";
import { type StageDefinition, stageJob } from "./common.ts";

export interface DataArgs {
  datasets: readonly string[];
  classes: number;
  imagesPerClass: number;
  size: number;
  seed: number;
}

export const dataStage: StageDefinition<DataArgs> = {
  kind: "data",
  version: 1,
  job(id, args) {
    const datasets = [...args.datasets].sort();
    return stageJob(this, id, {
      params: { ...args, datasets },
      inputs: {},
      async run(ctx) {
        ctx.log(`writing ${datasets.length} synthetic datasets (${args.classes} classes each)`);
        await writeSyntheticMtil(`${ctx.outDir}/mtil`, {
          seed: args.seed,
          classesPerDataset: args.classes,
          imagesPerClass: args.imagesPerClass,
          size: args.size,
          datasets: datasets as MtilDataset[],
        });
      },
    });
  },
};
