/**
 * How a run of a `matrix:` sweep is named: its point (`Pipeline.matrixPoint`) spelled once, here,
 * for the run name, the job id prefix and the results folder.
 */

/**
 * A run's matrix point as its name and results folder show it (`method.name=lora,train.lr=0.01`,
 * axes in the matrix's order); "" without a matrix. The one place that spells a point: the run
 * name is `<pipeline>/<point>`, and nothing parses the point back out of it.
 */
export function matrixPointName(point: Record<string, unknown>): string {
  return Object.entries(point).map(([key, value]) => `${key}=${renderValue(value)}`).join(",");
}

function renderValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(renderValue).join(",")}]`;
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}
