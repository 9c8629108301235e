/**
 * `deno task bench [NAME...] [--quick]`: runs the benchmarks (all, or the named ones) in turn; each
 * writes its figures under results/bench/. A benchmark is a module exporting
 * `main(args: string[]): Promise<number>`; adding one is one line in BENCHES.
 */
import { parseArgs } from "node:util";

type BenchMain = (args: string[]) => Promise<number>;

const BENCHES: Record<string, () => Promise<{ main: BenchMain }>> = {
  encode: () => import("./encode.ts"),
  train: () => import("./train.ts"),
  runner: () => import("./runner.ts"),
};

const USAGE = `usage: deno task bench [${Object.keys(BENCHES).join("|")}]... [--quick]`;

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        quick: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const names = parsed.positionals.length > 0 ? parsed.positionals : Object.keys(BENCHES);
  const unknown = names.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(", ")}\n${USAGE}`);
    return 2;
  }
  const benchArgs = parsed.values.quick ? ["--quick"] : [];
  let worst = 0;
  for (const name of names) {
    console.log(`== bench ${name}`);
    const { main: run } = await BENCHES[name]!();
    worst = Math.max(worst, await run(benchArgs));
  }
  return worst;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
