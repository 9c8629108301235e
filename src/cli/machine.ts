/**
 * The machine flags `run` and `job` share: `--backend` (TF.js's, for training) and `--engine` /
 * `--device` (the inference engine of the head and evaluate jobs). Checking them loads no tensor
 * library (the names live in clip/settings.ts).
 */
import { BACKEND_NAMES, DEVICE_NAMES, ENGINE_NAMES, isBackendName } from "../clip/settings.ts";

export const MACHINE_OPTIONS = {
  backend: { type: "string" },
  engine: { type: "string" },
  device: { type: "string" },
} as const;

export const MACHINE_USAGE = `[--backend ${BACKEND_NAMES.join("|")}] ` +
  `[--engine ${ENGINE_NAMES.join("|")}] [--device ${DEVICE_NAMES.join("|")}]`;

/** What is wrong with the machine flags given (an absent one is fine), or null. */
export function machineProblem(
  flags: { backend?: string; engine?: string; device?: string },
): string | null {
  if (flags.backend !== undefined && !isBackendName(flags.backend)) {
    return `--backend ${flags.backend}: unknown backend`;
  }
  for (const [flag, choices] of [["engine", ENGINE_NAMES], ["device", DEVICE_NAMES]] as const) {
    const value = flags[flag];
    if (value !== undefined && !(choices as readonly string[]).includes(value)) {
      return `--${flag} ${value}: expected one of ${choices.join(", ")}`;
    }
  }
  return null;
}
