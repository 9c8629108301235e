/**
 * The cache never serves a stale or corrupt result, through the CLI as a user runs it: weights
 * rewritten in place, a data image edited, `--force` after the output changed, an artifact
 * corrupted behind its stamp. Each case ends with the results a fresh cache gives.
 */
import assert from "node:assert/strict";
import { cli, ranCount, type Sandbox, sandbox, TINY, withSandbox } from "./cli_sandbox.ts";
import { writeFolderSetup, writeWeightsFolder } from "./folder_fixture.ts";

/** The result files that carry numbers (logs, timings and resolved.json name paths and times). */
async function resultFiles(box: Sandbox): Promise<Record<string, string>> {
  const folder = `${box.results}/tiny/default`;
  const files: Record<string, string> = {};
  for (const name of ["accuracy_matrix.csv", "metrics.json", "tables.md", "training.json"]) {
    files[name] = await Deno.readTextFile(`${folder}/${name}`);
  }
  return files;
}

/** `plan` output as job id -> "cached" | "pending" | "run REASON  detail". */
function planLines(stdout: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const match = /^(cached|pending|run (\w+))\s+(\S+)\s*(.*)$/.exec(line);
    if (match === null) continue;
    lines.set(match[3]!, match[2] ? `run ${match[2]}  ${match[4]}` : match[1]!);
  }
  return lines;
}

/** The artifact folder of job `id`, from the cache's index. */
async function artifactOf(box: Sandbox, id: string): Promise<string> {
  for await (const entry of Deno.readDir(`${box.cache}/index`)) {
    const index = JSON.parse(await Deno.readTextFile(`${box.cache}/index/${entry.name}`));
    if (index.jobId === id) return `${box.cache}/artifacts/${index.key}`;
  }
  throw new Error(`no index entry for ${id}`);
}

async function run(box: Sandbox, args: string[]): Promise<number> {
  const result = await cli(box, ["run", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return ranCount(result.stdout);
}

/** A second sandbox (its own cache and results) running the same pipeline from scratch. */
async function freshResults(file: string, args: string[] = []): Promise<Record<string, string>> {
  let files: Record<string, string> = {};
  await withSandbox(async (fresh) => {
    await run(fresh, [file, ...args]);
    files = await resultFiles(fresh);
  }, "rankone-fresh-");
  return files;
}

Deno.test("weights rewritten in place: everything downstream of the model reruns, results equal a fresh cache's", async () => {
  await withSandbox(async (box) => {
    const setup = await writeFolderSetup(box.root);
    assert.equal(await run(box, [setup.pipeline]), 23);
    const before = await resultFiles(box);
    await writeWeightsFolder(setup.weights, 1); // new content, same files, same inodes

    const plan = await cli(box, ["plan", setup.pipeline]);
    assert.equal(plan.code, 0, plan.stderr);
    const lines = planLines(plan.stdout);
    assert.equal(lines.get("model"), "run INPUT  weights changed, 1 file");
    for (const id of ["prepare/DTD", "prepare/EuroSAT", "fewshot/task-01-DTD"]) {
      assert.equal(lines.get(id), "cached", id);
    }
    // The model, then every head, evaluation, training, merge and bank, and the report.
    assert.equal(await run(box, [setup.pipeline]), 19);
    const after = await resultFiles(box);
    assert.notDeepEqual(after, before);
    assert.deepEqual(after, await freshResults(setup.pipeline));
  });
});

Deno.test("one data image edited: its dataset's jobs rerun, the other dataset's stay cached, results equal a fresh cache's", async () => {
  await withSandbox(async (box) => {
    const setup = await writeFolderSetup(box.root);
    assert.equal(await run(box, [setup.pipeline]), 23);
    // A DTD image replaced by another class's image: new bytes, same name.
    const images = `${setup.data}/dtd/dtd/images`;
    const [first, second] = [...Deno.readDirSync(images)].map((e) => e.name).sort();
    const target = [...Deno.readDirSync(`${images}/${first}`)].map((e) => e.name).sort()[0]!;
    const donor = [...Deno.readDirSync(`${images}/${second}`)].map((e) => e.name).sort()[0]!;
    await Deno.copyFile(`${images}/${second}/${donor}`, `${images}/${first}/${target}`);

    const lines = planLines((await cli(box, ["plan", setup.pipeline])).stdout);
    assert.equal(lines.get("prepare/DTD"), "run INPUT  data changed, 1 file");
    assert.equal(lines.get("fewshot/task-01-DTD"), "run INPUT  data changed, 1 file");
    assert.equal(lines.get("prepare/EuroSAT"), "cached");
    assert.equal(lines.get("fewshot/task-02-EuroSAT"), "cached");
    assert.equal(lines.get("model"), "cached");
    assert.ok(await run(box, [setup.pipeline]) >= 2);
    assert.deepEqual(await resultFiles(box), await freshResults(setup.pipeline));
  });
});

Deno.test("--force replaces the forced job's artifact with its new output; downstream follows its digest", async () => {
  const box = await sandbox();
  const fresh = await sandbox("rankone-fresh-");
  // Two training steps: the cpu backend is slow, and one step already gives other bytes.
  const until = [
    "--until",
    "merge/task-01-DTD",
    "--set",
    "train.steps=2",
    "--set",
    "train.iterations=2",
  ];
  try {
    // The backend is not in the key (values agree to rounding): a forced rerun on another one
    // computes other bytes under the same key.
    await run(box, [TINY, "--backend", "cpu", ...until]);
    const trainDir = await artifactOf(box, "train/task-01-DTD");
    const cpu = JSON.parse(await Deno.readTextFile(`${trainDir}/manifest.json`));
    assert.equal(cpu.backend, "cpu");
    const forced = await cli(box, ["run", TINY, "--backend", "wasm", "--force", "train", ...until]);
    assert.equal(forced.code, 0, forced.stderr);
    const wasm = JSON.parse(await Deno.readTextFile(`${trainDir}/manifest.json`));
    assert.equal(wasm.key, cpu.key);
    assert.equal(wasm.backend, "wasm");

    await run(fresh, [TINY, "--backend", "wasm", ...until]);
    const reference = await artifactOf(fresh, "train/task-01-DTD");
    const fromScratch = JSON.parse(await Deno.readTextFile(`${reference}/manifest.json`));
    assert.equal(wasm.digest, fromScratch.digest, "the forced output is the new computation");
    const mergeRan = /merge\/task-01-DTD: done/.test(forced.stderr);
    assert.equal(mergeRan, wasm.digest !== cpu.digest, "merge reruns exactly when train changed");
    const merged = await artifactOf(box, "merge/task-01-DTD");
    const freshMerged = await artifactOf(fresh, "merge/task-01-DTD");
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${merged}/manifest.json`)).digest,
      JSON.parse(await Deno.readTextFile(`${freshMerged}/manifest.json`)).digest,
    );
  } finally {
    await Deno.remove(box.root, { recursive: true });
    await Deno.remove(fresh.root, { recursive: true });
  }
});

Deno.test("a head corrupted in place with size and mtime kept: plan --verify and run --verify recompute it", async () => {
  await withSandbox(async (box) => {
    await run(box, [TINY]);
    const before = await resultFiles(box);
    const head = `${await artifactOf(box, "head/after-00/DTD")}/data/head.npy`;
    const stat = await Deno.stat(head);
    const bytes = await Deno.readFile(head);
    const dataStart = 10 + new DataView(bytes.buffer).getUint16(8, true); // npy v1 header
    for (let i = dataStart + 3; i < bytes.length; i += 4) bytes[i] = bytes[i]! ^ 0x80; // negate
    await Deno.chmod(head, 0o644);
    await Deno.writeFile(head, bytes);
    await Deno.chmod(head, 0o444);
    await Deno.utime(head, stat.atime!, stat.mtime!);

    const plan = await cli(box, ["plan", TINY, "--verify"]);
    assert.match(
      planLines(plan.stdout).get("head/after-00/DTD") ?? "",
      /^run MISSING {2}artifact is corrupt: file data\/head.npy content does not match/,
    );
    const verified = await cli(box, ["run", TINY, "--verify"]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stderr, /head\/after-00\/DTD: run \(MISSING: artifact is corrupt/);
    assert.equal(ranCount(verified.stdout), 1); // the same bytes again: nothing after it reruns
    assert.deepEqual(await resultFiles(box), before);
    const again = await cli(box, ["run", TINY, "--verify"]);
    assert.equal(ranCount(again.stdout), 0);
  });
});
