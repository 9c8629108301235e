import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "./digest.ts";
import { contentDigest } from "./manifest.ts";
import { ABSENT_DIGEST, SourceHasher } from "./sources.ts";
import { StateTable } from "./state.ts";
import { withTempDir } from "../../tests/temp_dir.ts";

function withFolder(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("rankone-sources-test-", body);
}

function hasher(root: string): SourceHasher {
  return new SourceHasher({ stateDir: join(root, "state"), treesDir: join(root, "trees") });
}

/** A small dataset-like tree: data/a/1.jpg, data/a/2.jpg, data/b/3.jpg, data/meta.json. */
async function writeTree(root: string): Promise<string> {
  const data = join(root, "data");
  await Deno.mkdir(join(data, "a"), { recursive: true });
  await Deno.mkdir(join(data, "b"));
  await Deno.writeTextFile(join(data, "a", "1.jpg"), "one");
  await Deno.writeTextFile(join(data, "a", "2.jpg"), "two");
  await Deno.writeTextFile(join(data, "b", "3.jpg"), "three");
  await Deno.writeTextFile(join(data, "meta.json"), "{}");
  return data;
}

Deno.test("a folder's digest is the content digest of its files by relative path, as an artifact's", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const digest = await hasher(root).digest({ path: data, depth: "tree" });
    const entry = (text: string) => ({ sha256: sha256Hex(text), size: text.length });
    assert.equal(
      digest.digest,
      contentDigest({
        "a/1.jpg": entry("one"),
        "a/2.jpg": entry("two"),
        "b/3.jpg": entry("three"),
        "meta.json": entry("{}"),
      }),
    );
    assert.deepEqual(
      { files: digest.files, bytes: digest.bytes, hashed: digest.hashed },
      { files: 4, bytes: 13, hashed: 4 },
    );
  });
});

Deno.test("a second hasher over the saved state table hashes nothing while stamps are unchanged", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const first = hasher(root);
    const cold = await first.digest({ path: data, depth: "tree" });
    await first.save();
    const warm = await hasher(root).digest({ path: data, depth: "tree" });
    assert.equal(warm.digest, cold.digest);
    assert.equal(warm.hashed, 0);
  });
});

Deno.test("a file rewritten with its size and mtime put back is rehashed (its ctime moved) and counted", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const first = hasher(root);
    const before = await first.digest({ path: data, depth: "tree" });
    await first.save();
    const file = join(data, "a", "2.jpg");
    const stat = await Deno.stat(file);
    // ctime has one-second resolution in the stamp: let it move.
    await new Promise((done) => setTimeout(done, 1100));
    await Deno.writeTextFile(file, "TWO");
    await Deno.utime(file, stat.atime!, stat.mtime!);
    const second = hasher(root);
    const after = await second.digest({ path: data, depth: "tree" });
    assert.notEqual(after.digest, before.digest);
    assert.equal(after.hashed, 1);
    assert.equal(await second.changedFiles(before.digest, after.digest), 1);
  });
});

Deno.test("changedFiles counts added, removed and edited files between two file lists", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const sources = hasher(root);
    const before = await sources.digest({ path: data, depth: "tree" });
    await Deno.remove(join(data, "b", "3.jpg"));
    await Deno.writeTextFile(join(data, "b", "4.jpg"), "four");
    await Deno.writeTextFile(join(data, "meta.json"), '{"x":1}');
    const after = await sources.digest({ path: data, depth: "tree" });
    assert.equal(await sources.changedFiles(before.digest, after.digest), 3);
    assert.equal(await sources.changedFiles(before.digest, "f".repeat(64)), null);
  });
});

Deno.test("depth top covers only the files directly in the folder; an absent path has the absent digest", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const sources = hasher(root);
    const top = await sources.digest({ path: data, depth: "top" });
    assert.equal(top.files, 1); // meta.json
    await Deno.writeTextFile(join(data, "a", "1.jpg"), "changed below the top");
    const again = await sources.digest({ path: data, depth: "top" });
    assert.equal(again.digest, top.digest);
    const absent = await sources.digest({ path: join(root, "nowhere"), depth: "tree" });
    assert.equal(absent.digest, ABSENT_DIGEST);
  });
});

Deno.test("a single file is a source too; links are followed, a folder reached twice is listed once", async () => {
  await withFolder(async (root) => {
    const data = await writeTree(root);
    const sources = hasher(root);
    const file = await sources.digest({ path: join(data, "meta.json"), depth: "top" });
    assert.equal(file.digest, contentDigest({ "meta.json": { sha256: sha256Hex("{}"), size: 2 } }));
    await Deno.symlink(data, join(root, "linked"));
    await Deno.symlink(data, join(data, "b", "up")); // a loop back to the top
    const viaLink = await sources.digest({ path: join(root, "linked"), depth: "tree" });
    assert.equal(viaLink.files, 4); // a/1, a/2, b/3, meta.json: the loop adds nothing
  });
});

Deno.test("the state table ignores foreign and malformed files and merges its files when they grow many", async () => {
  await withFolder(async (root) => {
    const dir = join(root, "state");
    await Deno.mkdir(dir);
    const stamp = { size: 3, mtimeMs: 1, ctimeMs: 2, ino: 3 };
    for (let i = 0; i < 17; i++) {
      const table = await StateTable.load(dir);
      table.remember(`/data/${i}.jpg`, stamp, "a".repeat(64));
      await table.save();
    }
    await Deno.writeTextFile(join(dir, "torn.json"), '[["/data/x.jpg",3,1,2');
    await Deno.writeTextFile(join(dir, "odd.json"), '[["/data/y.jpg",3,1,2,3,"not a sha"]]');
    const files = [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".json"));
    assert.ok(files.length <= 18, `${files.length} files`);
    const table = await StateTable.load(dir);
    assert.equal(table.size, 17);
    assert.equal(table.lookup("/data/16.jpg", stamp), "a".repeat(64));
    assert.equal(table.lookup("/data/16.jpg", { ...stamp, ctimeMs: 3 }), null);
  });
});
