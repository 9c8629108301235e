/**
 * The options of a command that takes no positionals, as its `main(args)` reads them, with
 * `--help`: shared by the benchmarks and scripts so each states its options and usage only.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;
type Parsed<T extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true }>
>["values"];

/**
 * `args` parsed strictly against `options`: the values, or the exit code to return at once: 0
 * after printing `usage` for `--help` / `-h`, 2 after printing what is wrong with `args` and
 * `usage`.
 */
export function commandOptions<T extends OptionsConfig>(
  args: string[],
  command: { options: T; usage: string },
): Parsed<T> | number {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(command.usage);
    return 0;
  }
  try {
    return parseArgs({ args, options: command.options, strict: true }).values as Parsed<T>;
  } catch (error) {
    console.error(`${(error as Error).message}\n${command.usage}`);
    return 2;
  }
}
