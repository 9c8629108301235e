/**
 * The one entry point behind every `deno task`: `main.ts <command> [args...] [--debug]`.
 * Each command lives in its own module, loaded only when asked for, so `deno task table` never
 * pays for loading TensorFlow.js. Every failure prints one line (`error: ...`); `--debug` (or
 * RANKONE_DEBUG=1) adds the stack trace.
 */
import { describeError } from "../errors.ts";

type CommandMain = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main: CommandMain }> }> = {
  run: { summary: "run a pipeline YAML, reusing cached stages", load: () => import("./run.ts") },
  plan: { summary: "show what a pipeline would run and why", load: () => import("./plan.ts") },
  cache: {
    summary: "inspect (ls) or reclaim (gc) the artifact cache",
    load: () => import("./cache.ts"),
  },
  table: { summary: "MTIL Transfer / Average / Last tables", load: () => import("./table.ts") },
  datasets: { summary: "check MTIL dataset folders", load: () => import("./datasets.ts") },
  encode: { summary: "CLIP image / text embeddings to .npy", load: () => import("./encode.ts") },
  tokenize: { summary: "CLIP tokenizer to .npy", load: () => import("./tokenize.ts") },
  params: { summary: "count a method's trainable parameters", load: () => import("./params.ts") },
  job: {
    summary: "execute one job from its cache record (a cluster or --jobs worker)",
    load: () => import("./job.ts"),
  },
  doctor: {
    summary: "the inference engines and devices this machine has",
    load: () => import("./doctor.ts"),
  },
  pretrain: {
    summary: "pretrain the quickstart's tiny CLIP on the concept pool",
    load: () => import("./pretrain.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `usage: deno task <command> [options]\n\ncommands:\n${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug") || Deno.env.get("RANKONE_DEBUG") === "1";
  const [name, ...rest] = argv.filter((arg) => arg !== "--debug");
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const module = await command.load();
    return await module.main(rest);
  } catch (error) {
    const { message, exitCode } = describeError(error);
    console.error(`error: ${message}`);
    if (debug && error instanceof Error && error.stack) console.error(error.stack);
    return exitCode;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
