/**
 * `deno task params --arch ViT-B-16 --method expert-pool`: trainable parameters of a method on an
 * architecture preset, from shapes alone (no weights are read).
 */
import { parseArgs } from "node:util";
import { loadArchPreset } from "../clip/presets.ts";
import { loadMethodConfig } from "../method/config.ts";
import { countTrainableParameters, parameterMegabytes } from "../method/params.ts";

const USAGE =
  "usage: deno task params --arch <preset|file.yaml> --method <name> [--no-routers] [--json]";

export function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        arch: { type: "string" },
        method: { type: "string", default: "expert-pool" },
        "no-routers": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return Promise.resolve(2);
  }
  if (values.help) {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  if (values.arch === undefined) {
    console.error(`missing --arch\n${USAGE}`);
    return Promise.resolve(2);
  }
  const arch = loadArchPreset(values.arch);
  const config = loadMethodConfig(values.method);
  const count = countTrainableParameters(arch, config);
  const total = values["no-routers"] ? count.total - count.routers : count.total;
  if (values.json) {
    console.log(
      JSON.stringify({ ...count, reported: total, megabytes: parameterMegabytes(total) }),
    );
  } else {
    console.log(`trainable parameters: ${total} (${parameterMegabytes(total).toFixed(2)} MB)`);
  }
  return Promise.resolve(0);
}
