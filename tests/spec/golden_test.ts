/**
 * Golden bad specs: each `tests/spec/bad/<case>.yaml` must fail to compile with exactly the message
 * in `<case>.expected` (location, reason, snippet) and exit code 2. A case passes command-line
 * input through header comments: `# set: a.b=value`, `# var: NAME=value`, `# env: NAME=value`.
 * `UPDATE_GOLDEN=1` rewrites the .expected files from what the compiler says now.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { compileSpec, SpecError } from "../../src/spec/mod.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BAD_FOLDER = fileURLToPath(new URL("./bad/", import.meta.url));
const UPDATE = Deno.env.get("UPDATE_GOLDEN") === "1";

function headerValues(text: string, key: string): string[] {
  const prefix = `# ${key}: `;
  return text.split("\n").filter((line) => line.startsWith(prefix)).map((line) =>
    line.slice(prefix.length)
  );
}

function splitPairs(pairs: string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((pair) => {
    const equals = pair.indexOf("=");
    return [pair.slice(0, equals), pair.slice(equals + 1)];
  }));
}

const cases = [...Deno.readDirSync(BAD_FOLDER)]
  .filter((entry) => entry.isFile && entry.name.endsWith(".yaml"))
  .map((entry) => entry.name.replace(/\.yaml$/, ""))
  .sort();

Deno.test("there are at least 25 golden bad specs, each with its expected message", () => {
  assert.ok(cases.length >= 25, `only ${cases.length} cases`);
  if (UPDATE) return;
  for (const name of cases) {
    assert.ok(
      [...Deno.readDirSync(BAD_FOLDER)].some((entry) => entry.name === `${name}.expected`),
      `${name}.expected is missing`,
    );
  }
});

for (const name of cases) {
  Deno.test(`bad spec "${name}" fails with its golden message and exit code 2`, () => {
    const specPath = `${BAD_FOLDER}${name}.yaml`;
    const text = Deno.readTextFileSync(specPath);
    let error: unknown = null;
    try {
      compileSpec(specPath, {
        cwd: REPO_ROOT,
        set: headerValues(text, "set"),
        vars: splitPairs(headerValues(text, "var")),
        env: splitPairs(headerValues(text, "env")),
      });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    const expectedPath = `${BAD_FOLDER}${name}.expected`;
    if (UPDATE) {
      Deno.writeTextFileSync(expectedPath, `${error.message}\n`);
      return;
    }
    assert.equal(error.message, Deno.readTextFileSync(expectedPath).replace(/\n$/, ""));
  });
}

Deno.test("every golden bad spec, through the run and plan commands, prints its message, exits 2 and writes nothing", async () => {
  const { main } = await import("../../src/cli/main.ts");
  const { relative } = await import("node:path");
  const sandbox = await Deno.makeTempDir({ prefix: "rankone-golden-" });
  const saved = { cache: Deno.env.get("RANKONE_CACHE"), results: Deno.env.get("RANKONE_RESULTS") };
  Deno.env.set("RANKONE_CACHE", `${sandbox}/cache`);
  Deno.env.set("RANKONE_RESULTS", `${sandbox}/results`);
  const printed: string[] = [];
  const consoleError = console.error;
  console.error = (...parts: unknown[]) => printed.push(parts.join(" "));
  try {
    for (const name of cases) {
      const specPath = `${BAD_FOLDER}${name}.yaml`;
      const text = Deno.readTextFileSync(specPath);
      const flags = [
        ...headerValues(text, "set").flatMap((pair) => ["--set", pair]),
        ...headerValues(text, "var").flatMap((pair) => ["--var", pair]),
      ];
      // The messages name files relative to the working folder; the golden ones, to the repo.
      const expected = Deno.readTextFileSync(`${BAD_FOLDER}${name}.expected`)
        .replace(/\n$/, "")
        .replaceAll("tests/spec/bad/", `${relative(Deno.cwd(), BAD_FOLDER)}/`);
      for (const command of ["run", "plan"]) {
        printed.length = 0;
        const code = await main([command, specPath, ...flags]);
        assert.equal(code, 2, `${command} ${name}`);
        assert.equal(printed.join("\n"), `error: ${expected}`, `${command} ${name}`);
      }
    }
    assert.deepEqual([...Deno.readDirSync(sandbox)], [], "nothing was written");
  } finally {
    console.error = consoleError;
    for (
      const [name, value] of [["RANKONE_CACHE", saved.cache], ["RANKONE_RESULTS", saved.results]]
    ) {
      if (value === undefined) Deno.env.delete(name!);
      else Deno.env.set(name!, value);
    }
    await Deno.remove(sandbox, { recursive: true });
  }
});
