/**
 * The docs' examples name files that exist: a newcomer copies them into pipelines/.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

function isFile(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

Deno.test("every extends: in the docs names fragments that exist, relative to pipelines/", async () => {
  const checked: string[] = [];
  for await (const entry of Deno.readDir(`${REPO_ROOT}docs`)) {
    if (!entry.name.endsWith(".md")) continue;
    const text = await Deno.readTextFile(`${REPO_ROOT}docs/${entry.name}`);
    for (const [, list] of text.matchAll(/^extends: \[([^\]]*)\]/gm)) {
      for (const path of list!.split(",").map((item) => item.trim())) {
        const resolved = new URL(path, `file://${REPO_ROOT}pipelines/`);
        assert.ok(
          isFile(resolved),
          `docs/${entry.name}: extends ${path} (${fileURLToPath(resolved)})`,
        );
        checked.push(path);
      }
    }
  }
  assert.ok(checked.length >= 3, `only ${checked.length} extends paths found in docs/`);
});
