/**
 * Plots as SVG, rendered without a browser: a Vega-Lite spec compiled to Vega and rendered by a
 * headless `vega.View` (renderer "none"; text widths are estimated, no canvas needed).
 * - the accuracy-matrix heatmap: rows = evaluation after each task (zero-shot first), columns =
 *   datasets in task order, each cell annotated with its accuracy;
 * - the expert-activation heatmap: rows = tasks, columns = expert index, colour = the task's share
 *   of votes for that expert, one panel per encoder (or all modules summed).
 */
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { UserError } from "../errors.ts";
import { displayName } from "./benchmark.ts";
import type { AccuracyMatrix } from "./matrix.ts";

/**
 * Renders a Vega-Lite spec to an SVG string. The same spec gives the same bytes in any process:
 * Vega numbers gradients with a process-wide counter (`gradient_0`, then `gradient_1` for the
 * next plot), so ids are renumbered from 0 in order of appearance.
 */
export async function renderSvg(spec: vegaLite.TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return renumberGradients(await view.toSVG());
  } finally {
    view.finalize();
  }
}

function renumberGradients(svg: string): string {
  const ids = new Map<string, string>();
  return svg.replace(/\bgradient_\d+\b/g, (id) => {
    let renamed = ids.get(id);
    if (renamed === undefined) {
      renamed = `gradient_${ids.size}`;
      ids.set(id, renamed);
    }
    return renamed;
  });
}

/** The accuracy-matrix heatmap as a Vega-Lite spec (cells annotated with one decimal). */
export function accuracyMatrixSpec(
  matrix: AccuracyMatrix,
  options: { title?: string } = {},
): vegaLite.TopLevelSpec {
  const taskCount = matrix.values.length;
  const tasks = matrix.tasks ?? Array.from({ length: taskCount }, (_, i) => `task ${i + 1}`);
  const datasets = tasks.map(displayName);
  const rowLabels = [
    ...(matrix.zeroShot === null ? [] : ["zero-shot"]),
    ...datasets.map((name, i) => `${i + 1}. ${name}`),
  ];
  const rows = matrix.zeroShot === null ? matrix.values : [matrix.zeroShot, ...matrix.values];
  const values = rows.flatMap((row, i) =>
    row.map((accuracy, j) => ({ after: rowLabels[i], dataset: datasets[j], accuracy }))
  );
  const cell = 34;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title ?? "Accuracy (%) after each task",
    width: cell * datasets.length,
    height: (cell - 10) * rowLabels.length,
    data: { values },
    encoding: {
      x: {
        field: "dataset",
        type: "nominal",
        sort: datasets,
        title: "evaluated on",
        axis: { orient: "top", labelAngle: -40 },
      },
      y: { field: "after", type: "nominal", sort: rowLabels, title: "after training task" },
    },
    layer: [
      {
        mark: { type: "rect" },
        encoding: {
          color: {
            field: "accuracy",
            type: "quantitative",
            scale: { scheme: "viridis", domain: [0, 100] },
            title: "accuracy",
          },
        },
      },
      {
        mark: { type: "text", fontSize: 9 },
        encoding: {
          text: { field: "accuracy", type: "quantitative", format: ".1f" },
          color: {
            condition: { test: "datum.accuracy > 60", value: "black" },
            value: "white",
          },
        },
      },
    ],
  } as vegaLite.TopLevelSpec;
}

/** Per task: module name -> activation counts, one per expert ([r]). */
export type TaskActivations = Record<string, readonly number[]>;

/** Which panel a module belongs to; the default splits vision from text by the module's name. */
export function encoderOfModule(moduleName: string): string {
  return /^(visual|vision)/.test(moduleName) || /(^|\.)vision_model\./.test(moduleName)
    ? "vision"
    : "text";
}

/**
 * Sums activation counts per task (and per panel): `[panel][task][expert]`.
 * `groupBy` null sums every module into one panel named "all modules".
 */
export function sumActivations(
  perTask: readonly TaskActivations[],
  options: { groupBy?: ((moduleName: string) => string) | null } = {},
): Map<string, number[][]> {
  const groupBy = options.groupBy === undefined ? encoderOfModule : options.groupBy;
  let experts: number | null = null;
  const panels = new Map<string, number[][]>();
  perTask.forEach((modules, task) => {
    for (const [moduleName, counts] of Object.entries(modules)) {
      experts ??= counts.length;
      if (counts.length !== experts) {
        throw new UserError(
          `Activation counts of task ${task + 1}, module "${moduleName}" have ${counts.length} ` +
            `experts, expected ${experts}`,
        );
      }
      const panel = groupBy === null ? "all modules" : groupBy(moduleName);
      if (!panels.has(panel)) {
        panels.set(panel, perTask.map(() => new Array<number>(counts.length).fill(0)));
      }
      const sums = panels.get(panel)![task]!;
      counts.forEach((count, expert) => (sums[expert] = sums[expert]! + count));
    }
  });
  return panels;
}

/**
 * The expert-activation heatmap: per panel, rows = tasks, columns = expert index, colour = share
 * (%) of the task's votes in that panel, annotated as a whole percentage.
 */
export function expertActivationSpec(
  tasks: readonly string[],
  perTask: readonly TaskActivations[],
  options: { groupBy?: ((moduleName: string) => string) | null; title?: string } = {},
): vegaLite.TopLevelSpec {
  if (tasks.length !== perTask.length) {
    throw new UserError(`${tasks.length} task names for ${perTask.length} tasks of activations`);
  }
  const taskLabels = tasks.map((name, i) => `${i + 1}. ${displayName(name)}`);
  const panels = sumActivations(perTask, { groupBy: options.groupBy });
  const values = [...panels].flatMap(([panel, sums]) =>
    sums.flatMap((counts, task) => {
      const total = counts.reduce((a, b) => a + b, 0);
      return counts.map((count, expert) => ({
        panel,
        task: taskLabels[task],
        expert,
        count,
        share: total === 0 ? 0 : (100 * count) / total,
      }));
    })
  );
  const experts = panels.values().next().value?.[0]?.length ?? 0;
  const cell = 24;
  const panelNames = [...panels.keys()].sort().reverse(); // "vision" before "text"
  const heatmap = {
    width: cell * experts,
    height: cell * tasks.length,
    encoding: {
      x: { field: "expert", type: "ordinal", title: "expert", axis: { labelAngle: 0 } },
      y: { field: "task", type: "nominal", sort: taskLabels, title: "task" },
    },
    layer: [
      {
        mark: { type: "rect" },
        encoding: {
          color: {
            field: "share",
            type: "quantitative",
            scale: { scheme: "blues" },
            title: "share of votes (%)",
          },
        },
      },
      {
        mark: { type: "text", fontSize: 8 },
        encoding: {
          text: { field: "share", type: "quantitative", format: ".0f" },
          color: { condition: { test: "datum.share > 20", value: "white" }, value: "black" },
        },
      },
    ],
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title ?? "Expert activations per task",
    data: { values },
    facet: { column: { field: "panel", type: "nominal", sort: panelNames, title: null } },
    spec: heatmap,
  } as vegaLite.TopLevelSpec;
}

/** The accuracy-matrix heatmap as SVG text. */
export function accuracyMatrixSvg(
  matrix: AccuracyMatrix,
  options: { title?: string } = {},
): Promise<string> {
  return renderSvg(accuracyMatrixSpec(matrix, options));
}

/** The expert-activation heatmap as SVG text. */
export function expertActivationSvg(
  tasks: readonly string[],
  perTask: readonly TaskActivations[],
  options: { groupBy?: ((moduleName: string) => string) | null; title?: string } = {},
): Promise<string> {
  return renderSvg(expertActivationSpec(tasks, perTask, options));
}
