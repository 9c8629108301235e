/** Stage `data`'s run (declared in ../data.ts): the synthetic MTIL datasets, written. */
import type { JobContext } from "../../cache/job.ts";
import type { MtilDataset } from "../../mtil/benchmark.ts";
import { renderConceptClass } from "../../mtil/concepts/domains.ts";
import { writeSyntheticMtil } from "../../mtil/synthetic.ts";
import type { SyntheticDataParams } from "../data.ts";

export async function run(ctx: JobContext, params: SyntheticDataParams): Promise<void> {
  ctx.log(
    `writing ${params.datasets.length} synthetic datasets (${params.classes} classes each)`,
  );
  await writeSyntheticMtil(`${ctx.outDir}/mtil`, {
    seed: params.seed,
    classesPerDataset: params.classes,
    imagesPerClass: params.imagesPerClass,
    size: params.size,
    datasets: params.datasets as MtilDataset[],
    render: params.images === "concepts" ? renderConceptClass : undefined,
  });
}
