import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { writeNpy } from "../io/npy.ts";
import { order } from "./benchmark.ts";
import {
  formatMatrixCsv,
  parseMatrixCsv,
  readAccuracyMatrix,
  readRunFolder,
  writeRunFolder,
} from "./matrix.ts";

function square(size: number, offset = 0): number[][] {
  return Array.from(
    { length: size },
    (_, i) => Array.from({ length: size }, (_, j) => offset + 10 * i + j),
  );
}

function userErrorMatching(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof UserError, `expected a UserError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("parseMatrixCsv() finds a header and a label column and keeps the numbers", () => {
  const parsed = parseMatrixCsv("after,A,B\nzero-shot,1,2\nA,3.5,4\n", "m.csv");
  assert.deepEqual(parsed.header, ["A", "B"]);
  assert.deepEqual(parsed.rows, [[1, 2], [3.5, 4]]);
  assert.deepEqual(parseMatrixCsv("1,2\n3,4\n", "m.csv"), { header: null, rows: [[1, 2], [3, 4]] });
});

Deno.test("parseMatrixCsv() names the line and column of a non-numeric cell", () => {
  assert.throws(
    () => parseMatrixCsv("1,2\n3,x\n", "/data/m.csv"),
    userErrorMatching(/\/data\/m\.csv: line 2, column 2: "x" is not a number/),
  );
});

Deno.test("readAccuracyMatrix() reads a 12 x 11 .npy with the zero-shot row first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = square(11);
    const zeroShot = Array.from({ length: 11 }, (_, j) => 50 + j);
    const path = `${dir}/m.npy`;
    await writeNpy(path, {
      dtype: "float64",
      shape: [12, 11],
      data: Float64Array.from([...zeroShot, ...rows.flat()]),
    });
    const matrix = await readAccuracyMatrix(path, { zeroShotRow: true });
    assert.deepEqual(matrix.zeroShot, zeroShot);
    assert.deepEqual(matrix.values, rows);
    await assert.rejects(
      () => readAccuracyMatrix(path),
      userErrorMatching(/m\.npy: 12 rows, expected 11 x 11.*--zero-shot-row/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readAccuracyMatrix() reports a missing file and a wrong shape as UserErrors", async () => {
  await assert.rejects(
    () => readAccuracyMatrix("/nonexistent/m.csv"),
    userErrorMatching(/Cannot read \/nonexistent\/m\.csv/),
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/m.csv`, "1,2,3\n4,5,6\n");
    await assert.rejects(
      () => readAccuracyMatrix(`${dir}/m.csv`),
      userErrorMatching(/m\.csv: 2 rows, expected 3 x 3/),
    );
    await Deno.writeTextFile(`${dir}/m.csv`, "1,2\n4,5,6\n");
    await assert.rejects(
      () => readAccuracyMatrix(`${dir}/m.csv`),
      userErrorMatching(/m\.csv: row 2 has 3 values, expected 2/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeRunFolder() then readRunFolder() round-trips an Order II run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tasks = order("II").tasks;
    const values = square(11, 0.25);
    const zeroShot = Array.from({ length: 11 }, (_, j) => 60 + j / 3);
    await writeRunFolder(dir, {
      info: { method: "expert-pool", order: "II", setting: "5-shot" },
      matrix: { source: "memory", tasks, values, zeroShot },
    });
    const csv = await Deno.readTextFile(`${dir}/accuracy_matrix.csv`);
    assert.ok(csv.startsWith("after,StanfordCars,Food,MNIST,"));
    assert.equal(csv.trim().split("\n").length, 13);
    const run = await readRunFolder(dir);
    assert.equal(run.info.method, "expert-pool");
    assert.deepEqual(run.matrix.tasks, tasks);
    assert.deepEqual(run.matrix.values, values);
    assert.deepEqual(run.matrix.zeroShot, zeroShot);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "accuracy_matrix.csv",
      "run.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRunFolder() rejects a header that disagrees with run.json's order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tasks = order("I").tasks;
    await Deno.writeTextFile(`${dir}/run.json`, JSON.stringify({ method: "m", order: "II" }));
    await Deno.writeTextFile(
      `${dir}/accuracy_matrix.csv`,
      formatMatrixCsv({
        source: "x",
        tasks,
        values: square(11),
        zeroShot: Array(11).fill(50),
      }),
    );
    await assert.rejects(() => readRunFolder(dir), userErrorMatching(/header lists Aircraft/));
    await Deno.remove(`${dir}/run.json`);
    await assert.rejects(() => readRunFolder(dir), userErrorMatching(/run\.json is missing/));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
