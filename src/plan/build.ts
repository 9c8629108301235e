/**
 * Pipeline -> jobs: the graph of cached stage jobs one resolved run needs.
 *
 * ```
 * model ─┬──────────────► head/after-00/D ─► evaluate/after-00/D ─┐
 * data ──┼► prepare/D ─────────────────────────────┘               │
 *        └► fewshot/task-t ─► train/task-t ─► merge/task-t ─► head/after-t/D ─► evaluate/after-t/D ─► report
 *                 orthogonalize/task-(t-1) ─┘   └► orthogonalize/task-t (the AGO bank after task t)
 * ```
 * The model state after task t is the base weights plus the merge artifacts of tasks 1..t, so a
 * state is identified by that chain of digests and two runs that share a prefix share its jobs.
 * Job params hold exactly what the stage output depends on; machine-specific things (backend,
 * cache location) stay out of the keys.
 */
import type { Job } from "../cache/job.ts";
import { matrixPointName } from "../spec/point.ts";
import type { Pipeline } from "../spec/types.ts";
import { datasetInfo } from "../mtil/benchmark.ts";
import { methodConfigFromSettings } from "../method/config.ts";
import { loadArchPreset } from "../clip/presets.ts";
import { inspectWeights } from "../clip/weights_header.ts";
import { STAGES } from "../stages/mod.ts";
import type { DataSource } from "../stages/common.ts";

/** Image side the model sees: the preset's for synthetic models, 224 for ViT-B/16 weights. */
export interface BuildOptions {
  /** Prefix every job id (matrix runs): `<prefix>/train/task-01-Aircraft`. */
  prefix?: string;
}

export interface RunGraph {
  pipeline: Pipeline;
  jobs: Job[];
  /** Id of the report job: its artifact is the run's results folder. */
  reportId: string;
}

function pad(index: number): string {
  return String(index).padStart(2, "0");
}

/** `after-00` = zero-shot; `after-03-DTD` = after the third task. */
export function stateName(tasks: readonly string[], t: number): string {
  return t === 0 ? "after-00" : `after-${pad(t)}-${tasks[t - 1]}`;
}

export function taskName(tasks: readonly string[], t: number): string {
  return `task-${pad(t)}-${tasks[t - 1]}`;
}

/** The prompt template a task trains with ("first": the dataset's first template). */
function trainingTemplate(pipeline: Pipeline, dataset: string, t: number): string {
  const templates = datasetInfo(dataset).templates;
  if (pipeline.train.template === "first" || templates.length === 1) return templates[0]!;
  // "random": one template per task, fixed by the seed and the task's position.
  const index = (pipeline.train.seed * 7919 + t * 104729) % templates.length;
  return templates[index]!;
}

/**
 * The image side the model sees, known before anything runs so that preparing data does not wait
 * for (or depend on) the model job: the preset's for a generated model, else read from the
 * weights' header. An unreadable folder gives 224 here; the model job then fails with the reason.
 */
export async function modelImageSize(model: Pipeline["model"]): Promise<number> {
  if (model.source === "synthetic") return loadArchPreset(model.preset).vision.imageSize;
  try {
    return (await inspectWeights(model.weights)).arch.vision.imageSize;
  } catch {
    return 224;
  }
}

export async function buildRunGraph(
  pipeline: Pipeline,
  options: BuildOptions = {},
): Promise<RunGraph> {
  const imageSize = await modelImageSize(pipeline.model);
  const id = (name: string) => options.prefix ? `${options.prefix}/${name}` : name;
  const jobs: Job[] = [];
  const add = (job: Job) => {
    jobs.push(job);
    return job.id;
  };
  const { benchmark, method, train, evaluate } = pipeline;
  const tasks = benchmark.tasks;
  const methodConfig = methodConfigFromSettings(method);
  const trains = methodConfig.adapter !== "none";

  const modelId = add(STAGES.model.job(id("model"), { model: pipeline.model }));

  let data: DataSource;
  if (benchmark.data.source === "synthetic") {
    const { classes, imagesPerClass, size, seed, images } = benchmark.data;
    const dataId = add(STAGES.data.job(id("data"), {
      datasets: [...new Set([...tasks, ...evaluate.datasets])],
      classes,
      imagesPerClass,
      size,
      seed,
      images,
    }));
    data = { kind: "artifact", jobId: dataId };
  } else {
    data = { kind: "folder", root: benchmark.data.root };
  }

  const prepared = new Map<string, string>();
  for (const dataset of evaluate.datasets) {
    prepared.set(
      dataset,
      add(STAGES.prepare.job(id(`prepare/${dataset}`), {
        data,
        size: imageSize,
        dataset,
        split: "test",
        limit: benchmark.testLimit,
      })),
    );
  }

  const evaluations: Record<string, string> = {};
  const evaluateState = (t: number, deltas: string[]) => {
    for (const dataset of evaluate.datasets) {
      const state = stateName(tasks, t);
      const headId = add(STAGES.head.job(id(`head/${state}/${dataset}`), {
        model: modelId,
        deltas,
        dataset,
        templates: datasetInfo(dataset).templates,
        prepared: prepared.get(dataset)!,
        batchSize: evaluate.batchSize,
      }));
      evaluations[`${pad(t)}/${dataset}`] = add(
        STAGES.evaluate.job(id(`evaluate/${state}/${dataset}`), {
          model: modelId,
          deltas,
          head: headId,
          prepared: prepared.get(dataset)!,
          batchSize: evaluate.batchSize,
        }),
      );
    }
  };

  // Always evaluated: the run folder's matrix starts with it (evaluate.zero_shot_row only decides
  // whether the tables show it), and the zero-shot method's every row is this one.
  evaluateState(0, []);
  const deltas: string[] = [];
  const trainIds: string[] = [];
  let bank: string | null = null;
  for (let t = 1; t <= tasks.length && trains; t++) {
    const dataset = tasks[t - 1]!;
    const task = taskName(tasks, t);
    const fewshotId = add(STAGES.fewshot.job(id(`fewshot/${task}`), {
      data,
      size: imageSize,
      dataset,
      shots: benchmark.shots,
      // One draw per task; the seed is the pipeline's, the task index keeps tasks apart.
      seed: train.seed + t,
    }));
    const trainId = add(STAGES.train.job(id(`train/${task}`), {
      model: modelId,
      deltas: [...deltas],
      bank,
      fewshot: fewshotId,
      // Full-shot sets are listed without pixels: training streams them from the data.
      data: benchmark.shots === 0 ? data : null,
      method: methodConfig,
      task: dataset,
      template: trainingTemplate(pipeline, dataset, t),
      steps: train.steps,
      iterations: train.iterations,
      batchSize: train.batchSize,
      lr: train.lrPerTask[t - 1] ?? train.lr,
      minLr: train.minLr,
      schedule: train.schedule,
      weightDecay: train.weightDecay,
      betas: train.betas,
      seed: train.seed + t,
    }));
    trainIds.push(trainId);
    const mergeId = add(STAGES.merge.job(id(`merge/${task}`), { train: trainId }));
    deltas.push(mergeId);
    if (methodConfig.ago.enabled && t < tasks.length) {
      bank = add(STAGES.orthogonalize.job(id(`orthogonalize/${task}`), {
        previous: bank,
        train: trainId,
      }));
    }
    if (evaluate.everyTask || t === tasks.length) evaluateState(t, [...deltas]);
  }

  const reportId = add(STAGES.report.job(id("report"), {
    runName: pipeline.runName,
    method: method.name,
    orderName: benchmark.orderName,
    tasks,
    shots: benchmark.shots,
    zeroShotRow: evaluate.zeroShotRow,
    formats: pipeline.report.formats,
    plots: pipeline.report.plots,
    reference: pipeline.report.reference,
    evaluations,
    trains: trainIds,
  }));
  return { pipeline, jobs, reportId };
}

/** A run's folder name under results/<pipeline>/: its matrix point, or `default`. */
export function runSlug(graph: RunGraph): string {
  const point = matrixPointName(graph.pipeline.matrixPoint);
  return point === "" ? "default" : point.replace(/[^A-Za-z0-9._=,+-]+/g, "_");
}
