/**
 * The `executor` section: how jobs are placed on machines, never what they compute. Only the
 * Slurm executor has settings: the resources each stage kind's jobs ask for, mapped to sbatch
 * options by src/runner/slurm.ts. Nothing here enters a job's params, so a change of resources
 * reruns nothing (tests/plan_keys_test.ts holds that).
 *
 * ```yaml
 * executor:
 *   slurm:
 *     default: { cpus: 2, mem: 8G, time: "1:00:00" }   # every kind, unless the kind says otherwise
 *     train: { gpus: 1, mem: 32G, time: "2:00:00" }
 *     evaluate: { gpus: 1 }
 * ```
 */
import { SpecError } from "./error.ts";
import { describe, type SpecNode } from "./node.ts";
import { listFrom, numberFrom, Section, stringFrom } from "./read.ts";
import { type ExecutorSpec, type SlurmResources, STAGE_KINDS, type StageKind } from "./types.ts";

/** What a job gets when the spec asks for nothing: one CPU, and the partition's defaults. */
export const DEFAULT_SLURM_RESOURCES: SlurmResources = {
  cpus: 1,
  gpus: 0,
  mem: null,
  time: null,
  partition: null,
  options: [],
};

const RESOURCE_KEYS = ["cpus", "gpus", "mem", "time", "partition", "options"] as const;

/**
 * sbatch options the executor sets itself: its log file, the job name it finds jobs by, the
 * parsable job id it reads, the command and where it runs. A spec that set them would break that.
 */
const RESERVED_OPTIONS = [
  "--output",
  "-o",
  "--error",
  "-e",
  "--job-name",
  "-J",
  "--parsable",
  "--wrap",
  "--chdir",
  "-D",
  "--array",
  "-a",
  "--dependency",
  "-d",
  "--wait",
  "-W",
];

/** Slurm's memory sizes: an integer with an optional unit (megabytes without one). */
const MEMORY = /^[1-9][0-9]*[KMGT]?$/i;
/** Slurm's time limits: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or no limit. */
const TIME = /^([0-9]+(:[0-9]{1,2}){0,2}|[0-9]+-[0-9]{1,2}(:[0-9]{1,2}){0,2}|UNLIMITED|INFINITE)$/;

export function readExecutor(top: Section): ExecutorSpec {
  const section = top.section("executor", ["slurm"]);
  const slurm = section.section("slurm", ["default", ...STAGE_KINDS]);
  const fallback = readResources(slurm.section("default", RESOURCE_KEYS), DEFAULT_SLURM_RESOURCES);
  const byKind = Object.fromEntries(
    STAGE_KINDS.map((kind) => [kind, readResources(slurm.section(kind, RESOURCE_KEYS), fallback)]),
  ) as Record<StageKind, SlurmResources>;
  return { slurm: byKind };
}

/** One kind's resources: each field as written, else `fallback`'s. */
function readResources(section: Section, fallback: SlurmResources): SlurmResources {
  const field = <T>(key: string, read: (node: SpecNode, path: string) => T, otherwise: T): T => {
    const node = section.get(key);
    return node === undefined ? otherwise : read(node, section.pathOf(key));
  };
  return {
    cpus: field(
      "cpus",
      (node, path) => numberFrom(node, path, { integer: true, min: 1 }),
      fallback.cpus,
    ),
    gpus: field(
      "gpus",
      (node, path) => numberFrom(node, path, { integer: true, min: 0 }),
      fallback.gpus,
    ),
    mem: field("mem", memoryFrom, fallback.mem),
    time: field("time", timeFrom, fallback.time),
    partition: field("partition", stringFrom, fallback.partition),
    options: field("options", optionsFrom, fallback.options),
  };
}

/** `32G`, `500M`, `1T`, or a number of megabytes; returned as Slurm writes it. */
function memoryFrom(node: SpecNode, path: string): string {
  if (node.kind === "scalar" && typeof node.value === "number") {
    return `${numberFrom(node, path, { integer: true, min: 1 })}M`;
  }
  if (node.kind === "scalar" && typeof node.value === "string" && MEMORY.test(node.value)) {
    return node.value.toUpperCase();
  }
  throw new SpecError(
    node.origin,
    `${path}: expected a size such as 32G or 500M (K, M, G, T; a plain number is megabytes), ` +
      `got ${describe(node)}`,
  );
}

/** `"2:00:00"`, `"1-12:00:00"`, `"30:00"`, or a number of minutes; returned as Slurm writes it. */
function timeFrom(node: SpecNode, path: string): string {
  if (node.kind === "scalar" && typeof node.value === "number") {
    return String(numberFrom(node, path, { integer: true, min: 1 }));
  }
  if (node.kind === "scalar" && typeof node.value === "string" && TIME.test(node.value)) {
    return node.value;
  }
  throw new SpecError(
    node.origin,
    `${path}: expected a time limit such as "2:00:00" (hours:minutes:seconds), "1-12:00:00" ` +
      `(days-hours:minutes:seconds), "30:00" (minutes:seconds) or a number of minutes, got ` +
      describe(node),
  );
}

/** Further sbatch options, each one argument as written (`--qos=high`, `--constraint=a100`). */
function optionsFrom(node: SpecNode, path: string): string[] {
  return listFrom(node, path, { what: "sbatch options", nonEmpty: false }).map((item, index) => {
    const option = stringFrom(item, `${path}[${index}]`);
    const name = option.startsWith("--") ? option.split("=")[0]! : option.slice(0, 2);
    if (!option.startsWith("-")) {
      throw new SpecError(
        item.origin,
        `${path}[${index}]: expected an sbatch option such as --qos=high, got "${option}"`,
      );
    }
    // Long options as `--name=value`, short ones as `-xvalue`.
    const reserved = RESERVED_OPTIONS.some((taken) =>
      taken.startsWith("--") ? name === taken : !option.startsWith("--") && option.startsWith(taken)
    );
    if (reserved) {
      throw new SpecError(
        item.origin,
        `${path}[${index}]: ${name} is set by rankone itself (the log file, job name and ` +
          `command of each job)`,
      );
    }
    return option;
  });
}
