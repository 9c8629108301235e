import assert from "node:assert/strict";
import { join } from "node:path";
import { HOST } from "../cache/host.ts";
import { removeLeftovers, swapInto } from "./results.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("rankone-results-test-", body);
}

async function folderWith(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.mkdir(path);
  await Deno.writeTextFile(join(path, "metrics.json"), text);
  return path;
}

Deno.test("swapInto replaces a results folder whole, and eight concurrent writers all succeed", async () => {
  await withDir(async (dir) => {
    const folder = join(dir, "default");
    await swapInto(await folderWith(dir, ".tmp-a", "old"), folder);
    const writers = Array.from({ length: 8 }, (_, i) => folderWith(dir, `.tmp-${i}`, `run ${i}`));
    await Promise.all((await Promise.all(writers)).map((temp) => swapInto(temp, folder)));
    const text = await Deno.readTextFile(join(folder, "metrics.json"));
    assert.match(text, /^run [0-7]$/);
    // Nothing else is left: the replaced folders were removed.
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["default"]);
  });
});

Deno.test("leftovers of killed writers are removed; a live writer's temp folder and other folders stay", async () => {
  await withDir(async (dir) => {
    const dead = 4_194_400; // above the kernel's pid_max: no such process
    const names = [
      `.tmp-results-${HOST}-${dead}-0a1b2c3d`, // a killed writer of this host
      `.default.old-${HOST}-${dead}-0a1b2c3d`, // the old folder it had moved aside
      `default.old-${dead}`, // the older naming
      `.tmp-results-${HOST}-${Deno.pid}-0a1b2c3d`, // this process: live
      `.tmp-results-elsewhere-${dead}-0a1b2c3d`, // another host's, recent: may be live
      "default",
      "method.name=lora",
    ];
    for (const name of names) await Deno.mkdir(join(dir, name));
    await removeLeftovers(dir);
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(
      left,
      [
        `.tmp-results-${HOST}-${Deno.pid}-0a1b2c3d`,
        `.tmp-results-elsewhere-${dead}-0a1b2c3d`,
        "default",
        "method.name=lora",
      ].sort(),
    );
  });
});
