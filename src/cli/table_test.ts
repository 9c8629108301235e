import assert from "node:assert/strict";
import { needsShared, sharedPath } from "../../tests/shared.ts";
import { readNpy } from "../io/npy.ts";
import { order } from "../mtil/benchmark.ts";
import { writeRunFolder } from "../mtil/matrix.ts";
import { DEFAULT_REFERENCE_PATH } from "../mtil/reference.ts";
import { main as cliMain } from "./main.ts";

interface MetricsJson {
  transfer: { mean: number; per_dataset: number[] };
  average: { mean: number; per_dataset: number[] };
  last: { mean: number; per_dataset: number[] };
}

/** Runs `deno task table ...` in-process; returns the exit code and what it printed. */
async function runTable(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await cliMain(["table", ...args]);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** A released ZSCL matrix as an 11 x 11 CSV (CIFAR10, column 2, dropped) in a temp folder. */
async function releasedMatrixCsv(file: string, dir: string): Promise<string> {
  const array = await readNpy(sharedPath(`mtil/zscl-results/${file}`)!);
  const values = Array.from(array.data as Float64Array);
  const lines = Array.from({ length: 11 }, (_, i) => {
    const row = values.slice(i * 12, (i + 1) * 12);
    row.splice(2, 1);
    return row.join(",");
  });
  const path = `${dir}/${file.replace(".npy", ".csv")}`;
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

function near(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) <= 0.05, `${actual} vs ${expected}`);
}

for (
  const [file, expected] of [
    ["t3_1.npy", [44.6, 55.9, 77.3]],
    ["t3_2.npy", [56.9, 64.7, 74.6]],
  ] as const
) {
  Deno.test(
    `table --matrix --format json on ZSCL's ${file} prints Transfer / Average / Last ${
      expected.join(" / ")
    }`,
    needsShared(`mtil/zscl-results/${file}`),
    async () => {
      const dir = await Deno.makeTempDir();
      try {
        const path = await releasedMatrixCsv(file, dir);
        const { code, stdout } = await runTable(["--matrix", path, "--format", "json"]);
        assert.equal(code, 0);
        const json = JSON.parse(stdout) as MetricsJson;
        assert.deepEqual(Object.keys(json), ["transfer", "average", "last"]);
        assert.deepEqual(Object.keys(json.transfer), ["mean", "per_dataset"]);
        near(json.transfer.mean, expected[0]);
        near(json.average.mean, expected[1]);
        near(json.last.mean, expected[2]);
        assert.equal(json.transfer.per_dataset.length, 10);
        assert.equal(json.last.per_dataset.length, 11);
        // Unrounded: the mean is the exact mean of the per-dataset values.
        const meanOfLast = json.last.per_dataset.reduce((a, b) => a + b, 0) / 11;
        assert.ok(Math.abs(json.last.mean - meanOfLast) < 1e-9);
        if (file === "t3_1.npy") {
          near(json.transfer.per_dataset[0]!, 67.1); // Caltech101
          near(json.average.per_dataset[9]!, 31.8); // StanfordCars
          near(json.last.per_dataset[7]!, 99.6); // MNIST
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

Deno.test("table on a run folder prints Markdown with differences to a reference row", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tasks = order("I").tasks;
    // Every accuracy is 70, so each Last cell of the run is 70.
    const values = tasks.map(() => tasks.map(() => 70));
    await writeRunFolder(dir, {
      info: { method: "expert-pool", order: "I" },
      matrix: { source: "memory", tasks, values, zeroShot: tasks.map(() => 60) },
    });
    const { code, stdout } = await runTable([
      dir,
      "--reference",
      DEFAULT_REFERENCE_PATH,
      "--group",
      "full-shot-order-I",
      "--against",
      "Continual-FT",
      "--plot",
      `${dir}/matrix.svg`,
    ]);
    assert.equal(code, 0);
    const lastBlock = stdout.slice(stdout.indexOf("### Last"));
    const ours = lastBlock.split("\n").find((line) => line.startsWith("| expert-pool |"))!;
    // Continual-FT's Last is 31.0 on Aircraft and 77.3 on average.
    assert.match(ours, /^\| expert-pool \| 70\.0 \(\+39\.0\) \|/);
    assert.match(ours, /\| 70\.0 \(-7\.3\) \|$/);
    assert.match(stdout, /\| Zero-shot \(this run\) \| 60\.0 \|/);
    assert.match(stdout, /\| ZSCL \| – \|.*\| 83\.6 \|/);
    const svg = await Deno.readTextFile(`${dir}/matrix.svg`);
    assert.equal(svg.split('aria-roledescription="rect mark"').length - 1, 12 * 11);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("table exits 2 with a usage line on an unknown flag or a bad --format", async () => {
  const unknown = await runTable(["--matrix", "m.csv", "--colour"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /usage: deno task table/);
  const badFormat = await runTable(["--matrix", "m.csv", "--format", "html"]);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /--format must be one of md, csv, latex, json/);
});

Deno.test("table reports a non-numeric cell by file, line and column (exit 1)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/m.csv`, "1,2\n3,oops\n");
    const { code, stderr } = await runTable(["--matrix", `${dir}/m.csv`]);
    assert.equal(code, 1);
    assert.match(stderr, /m\.csv: line 2, column 2: "oops" is not a number/);
    const missing = await runTable(["--matrix", `${dir}/absent.npy`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot read .*absent\.npy/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
