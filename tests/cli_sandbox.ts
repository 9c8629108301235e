/**
 * Running the CLI as a user does, in a sandbox: a private cache and results folder, the process's
 * own exit code and output. For end-to-end tests.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
export const REPO = fileURLToPath(new URL("..", import.meta.url));
/** The two-task pipeline on the generated tiny CLIP (tests/fixtures/pipelines/tiny.yaml). */
export const TINY = fileURLToPath(new URL("./fixtures/pipelines/tiny.yaml", import.meta.url));

export interface Sandbox {
  root: string;
  cache: string;
  results: string;
  env: Record<string, string>;
}

export async function sandbox(prefix = "rankone-e2e-"): Promise<Sandbox> {
  const root = await Deno.makeTempDir({ prefix });
  const cache = `${root}/cache`;
  const results = `${root}/results`;
  return {
    root,
    cache,
    results,
    env: {
      RANKONE_CACHE: cache,
      RANKONE_RESULTS: results,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
  };
}

/** A sandbox for the length of `body`, removed afterwards whatever happens. */
export async function withSandbox(
  body: (box: Sandbox) => Promise<void>,
  prefix = "rankone-e2e-",
): Promise<void> {
  const box = await sandbox(prefix);
  try {
    await body(box);
  } finally {
    await Deno.remove(box.root, { recursive: true });
  }
}

/** The `deno task` entry point (`src/cli/main.ts`) run as its own process in the sandbox. */
export async function cli(
  box: Sandbox,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: box.env,
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** `cli()` as a child process the test can signal, its stderr streamed. */
export function spawnCli(box: Sandbox, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: box.env,
    cwd: REPO,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** How many jobs a `run` executed, from its summary line. */
export function ranCount(stdout: string): number {
  const match = /^(\d+) jobs ran, (\d+) cached/m.exec(stdout);
  assert.ok(match, `no summary line in:\n${stdout}`);
  return Number(match[1]);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads `stream` until `pattern` appears (or `pattern(text so far)` holds); returns what was read.
 * The rest is drained.
 */
export async function waitFor(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp | ((seen: string) => boolean),
): Promise<{ seen: string; rest: Promise<string> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const found = typeof pattern === "function" ? pattern : (text: string) => pattern.test(text);
  let seen = "";
  while (!found(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const rest = (async () => {
    let more = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return more;
      more += value;
    }
  })();
  return { seen, rest };
}

/** What a run must not leave in the cache: temporary output, locks, run registrations. */
export async function leftovers(box: Sandbox): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ["tmp", "locks", "runs"]) {
    for await (const entry of Deno.readDir(`${box.cache}/${dir}`)) {
      found.push(`${dir}/${entry.name}`);
    }
  }
  return found;
}
