/**
 * The quickstart ablations matrix as the parallel and cluster tests run it: the pipeline file is
 * a parameter (ABLATIONS), made small on the command line (REDUCED: two datasets, three training
 * steps), and the results compared byte for byte (`resultFiles`).
 */
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ABLATIONS = fileURLToPath(
  new URL("./fixtures/pipelines/quickstart-ablations.yaml", import.meta.url),
);

/** Two datasets and three steps per task: 38 jobs over the three runs. */
export const REDUCED = [
  "--set",
  "benchmark.datasets=[DTD, EuroSAT]",
  "--set",
  "train.steps=3",
  "--set",
  "train.iterations=3",
];

/**
 * Every results file of every run of the sweep (and its summary), by path, with what is measured
 * rather than computed left out: how long this invocation's jobs took and how fast they went
 * differ from run to run. Each run's timings.json and efficiency table files keep only their
 * names; the summary keeps what comes before its efficiency table; a job log loses its speed
 * figures (a training's steps/s line, an evaluation's images/s).
 */
export async function resultFiles(resultsRoot: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else files[relative(resultsRoot, path)] = computedPart(path, await Deno.readTextFile(path));
    }
  };
  await walk(resultsRoot);
  return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
}

/** The part of a results file that a rerun must reproduce byte for byte. */
function computedPart(path: string, text: string): string {
  const name = basename(path);
  if (name === "timings.json" || /^efficiency\.(json|md|csv|tex)$/.test(name)) return "(measured)";
  const efficiency = text.indexOf("### Efficiency");
  if (name === "summary.md" && efficiency >= 0) return text.slice(0, efficiency);
  if (name.endsWith(".log")) {
    return text.replace(/^.* steps\/s after the first step .*\n/gm, "")
      .replace(/, [\d.]+ images\/s$/gm, "");
  }
  return text;
}

/** The most jobs a run's stderr shows running at once (between their "run (" and "done in"). */
export function mostAtOnce(stderr: string): number {
  const running = new Set<string>();
  let most = 0;
  for (const line of stderr.split("\n")) {
    const match = /^\[\d+\/\d+\] (\S+): (run \(|done in |failed: )/.exec(line);
    if (match === null) continue;
    if (match[2] === "run (") running.add(match[1]!);
    else running.delete(match[1]!);
    most = Math.max(most, running.size);
  }
  return most;
}
