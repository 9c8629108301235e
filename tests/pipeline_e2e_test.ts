/**
 * The product end to end, through the CLI as a user runs it, on the tiny pipeline
 * (tests/fixtures/pipelines/tiny.yaml: generated CLIP, synthetic data, two short tasks).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cli, exists, ranCount, spawnCli, TINY, withSandbox } from "./cli_sandbox.ts";

const BAD_LR = fileURLToPath(new URL("./fixtures/pipelines/bad_lr.yaml", import.meta.url));

async function resultFiles(folder: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of ["accuracy_matrix.csv", "metrics.json", "tables.md", "training.json"]) {
    files[name] = await Deno.readTextFile(`${folder}/${name}`);
  }
  return files;
}

Deno.test("run, run again: the second run executes no stage; one changed parameter reruns only its downstream", () =>
  withSandbox(async (box) => {
    const first = await cli(box, ["run", TINY]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(ranCount(first.stdout), 24);
    const folder = `${box.results}/tiny/default`;
    const matrix = (await Deno.readTextFile(`${folder}/accuracy_matrix.csv`)).trim().split("\n");
    assert.equal(matrix[0], "after,DTD,EuroSAT");
    assert.equal(matrix.length, 4); // header, zero-shot, after task 1, after task 2
    for (const file of ["metrics.json", "tables.md", "accuracy_matrix.svg", "resolved.json"]) {
      assert.ok(await exists(`${folder}/${file}`), file);
    }

    const second = await cli(box, ["run", TINY]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(ranCount(second.stdout), 0);

    // A training parameter: the model, data, preparation, few-shot sets and the zero-shot row stay.
    const plan = await cli(box, ["plan", TINY, "--set", "train.lr=0.01"]);
    assert.equal(plan.code, 0, plan.stderr);
    const status = new Map(
      plan.stdout.trim().split("\n").filter((line) => /^(cached|run|pending)/.test(line)).map(
        (line) => {
          const [state, ...rest] = line.split(/\s+/);
          const id = state === "run" ? rest[1]! : rest[0]!;
          return [id, state === "run" ? `run ${rest[0]}` : state!];
        },
      ),
    );
    for (
      const id of [
        "model",
        "data",
        "prepare/DTD",
        "fewshot/task-01-DTD",
        "fewshot/task-02-EuroSAT",
        "evaluate/after-00/EuroSAT",
      ]
    ) assert.equal(status.get(id), "cached", id);
    assert.equal(status.get("train/task-01-DTD"), "run PARAMS");
    assert.equal(status.get("evaluate/after-02-EuroSAT/DTD"), "pending");

    const changed = await cli(box, ["run", TINY, "--set", "train.lr=0.01"]);
    assert.equal(changed.code, 0, changed.stderr);
    // train, merge, orthogonalize of task 1; train, merge of task 2; 2 x 2 heads and evaluations
    // after each task; the report.
    assert.equal(ranCount(changed.stdout), 14);
  }));

Deno.test("SIGKILL in the middle of training, then a rerun: results equal an uninterrupted run", async () => {
  const slow = ["--set", "train.steps=60", "--set", "train.iterations=60"];
  await withSandbox((reference) =>
    withSandbox(async (box) => {
      const whole = await cli(reference, ["run", TINY, ...slow]);
      assert.equal(whole.code, 0, whole.stderr);

      const child = spawnCli(box, ["run", TINY, ...slow]);
      // Kill it once the first task's training reports progress.
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!/train\/task-01-DTD: \d+\/60 it/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      child.kill("SIGKILL");
      await reader.cancel();
      const killed = await child.status;
      assert.equal(killed.signal, "SIGKILL", `the run ended before it could be killed:\n${seen}`);
      assert.equal(await exists(`${box.results}/tiny/default`), false);

      const resumed = await cli(box, ["run", TINY, ...slow]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.ok(ranCount(resumed.stdout) < 24, "the rerun resumed from the finished stages");
      assert.deepEqual(
        await resultFiles(`${box.results}/tiny/default`),
        await resultFiles(`${reference.results}/tiny/default`),
      );
    })
  );
});

Deno.test("a bad spec prints file:line:column with the offending line, exits 2 and writes nothing", () =>
  withSandbox(async (box) => {
    for (const command of ["run", "plan"]) {
      const result = await cli(box, [command, BAD_LR]);
      assert.equal(result.code, 2);
      assert.ok(
        result.stderr.includes(
          'bad_lr.yaml:4:7: train.lr: expected a number, got "2e-3x"\n' +
            "    4 |   lr: 2e-3x\n" +
            "      |       ^",
        ),
        result.stderr,
      );
    }
    assert.equal(await exists(box.cache), false);
    assert.equal(await exists(box.results), false);
    const usage = await cli(box, ["run", TINY, "--no-such-flag"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: deno task run FILE/);
    const missing = await cli(box, ["run", "pipelines/does-not-exist.yaml"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read pipeline pipelines\/does-not-exist\.yaml/);
    assert.equal(await exists(box.cache), false);
  }));
