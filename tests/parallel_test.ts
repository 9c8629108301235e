/**
 * `run --jobs N`: independent jobs in N local worker processes (`deno task job --serve`), through
 * the CLI as a user runs it: the same results as one job at a time, Ctrl-C stopping the workers,
 * a failing job named with its message while the others finish.
 */
import assert from "node:assert/strict";
import { ABLATIONS, mostAtOnce, REDUCED, resultFiles } from "./ablations.ts";
import {
  cli,
  exists,
  leftovers,
  ranCount,
  spawnCli,
  TINY,
  waitFor,
  withSandbox,
} from "./cli_sandbox.ts";
import { writeFolderSetup } from "./folder_fixture.ts";

Deno.test("--jobs 2 runs the quickstart ablations matrix two jobs at a time, with results byte-identical to --jobs 1", async () => {
  await withSandbox(async (one) => {
    await withSandbox(async (two) => {
      const sequential = await cli(one, ["run", ABLATIONS, ...REDUCED]);
      assert.equal(sequential.code, 0, sequential.stderr);
      const parallel = await cli(two, ["run", ABLATIONS, ...REDUCED, "--jobs", "2"]);
      assert.equal(parallel.code, 0, parallel.stderr);
      assert.equal(ranCount(parallel.stdout), 38);
      assert.equal(ranCount(sequential.stdout), 38);
      assert.equal(mostAtOnce(sequential.stderr), 1);
      assert.equal(mostAtOnce(parallel.stderr), 2);
      const files = await resultFiles(two.results);
      assert.ok(Object.keys(files).length > 30, Object.keys(files).join(", "));
      assert.deepEqual(files, await resultFiles(one.results));
      assert.deepEqual(await leftovers(two), []);
      // And the cache the workers filled is the one a sequential run finds complete.
      const again = await cli(two, ["run", ABLATIONS, ...REDUCED]);
      assert.equal(ranCount(again.stdout), 0);
    });
  });
});

Deno.test("Ctrl-C on a --jobs 2 run stops its workers within a step: exit 130, nothing left behind", async () => {
  await withSandbox(async (box) => {
    const long = ["--set", "train.steps=150", "--set", "train.iterations=150"];
    const child = spawnCli(box, ["run", TINY, ...long, "--jobs", "2"]);
    const { rest } = await waitFor(child.stderr, /train\/task-01-DTD: \d+\/150 it/);
    const sent = performance.now();
    // To the driver alone (a terminal's Ctrl-C reaches the workers too): it passes it on.
    child.kill("SIGINT");
    const status = await child.status;
    const seconds = (performance.now() - sent) / 1000;
    const stderr = await rest;
    assert.equal(status.code, 130, stderr);
    assert.ok(seconds < 5, `exited ${seconds.toFixed(2)} s after SIGINT`);
    assert.match(stderr, /error: interrupted/);
    assert.deepEqual(await leftovers(box), []);
    assert.equal(await exists(`${box.results}/tiny/default`), false);
  });
});

Deno.test("a job failing in a local worker fails the run with its message; the job running beside it finishes and stays cached", async () => {
  await withSandbox(async (box) => {
    const setup = await writeFolderSetup(box.root);
    // Every DTD image unreadable: preparing DTD's test split fails, EuroSAT's succeeds.
    for await (const entry of Deno.readDir(`${setup.data}/dtd/dtd/images`)) {
      for await (const image of Deno.readDir(`${setup.data}/dtd/dtd/images/${entry.name}`)) {
        await Deno.writeTextFile(`${setup.data}/dtd/dtd/images/${entry.name}/${image.name}`, "x");
      }
    }
    const failed = await cli(box, ["run", setup.pipeline, "--until", "prepare", "--jobs", "2"]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(
      failed.stderr,
      /^error: prepare\/DTD: DTD \(test split\): Cannot decode image .*dtd\/dtd\/images\//m,
    );
    assert.match(failed.stderr, /prepare\/EuroSAT: done in/);
    assert.deepEqual(await leftovers(box), []);
    const plan = await cli(box, ["plan", setup.pipeline]);
    assert.match(plan.stdout, /^cached\s+prepare\/EuroSAT/m);
    assert.match(plan.stdout, /^run MISSING\s+prepare\/DTD/m);
  });
});
