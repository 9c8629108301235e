/**
 * An error the user can act on: bad input, a missing file, a wrong shape. The CLI prints its
 * message alone (no stack) and exits with `exitCode`. Messages say what and where:
 * `Cannot load weights/model.safetensors: tensor "visual.proj" has shape [8, 4], expected [128, 48]`.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "UserError";
    this.exitCode = options.exitCode ?? 1;
  }
}

/** OS error codes that mean the machine, not the program, is at fault. */
const ENVIRONMENT_CODES = new Set([
  "ENOSPC",
  "EDQUOT",
  "EROFS",
  "EACCES",
  "EPERM",
  "EIO",
  "EMFILE",
  "ENFILE",
  "ENOMEM",
  "ESTALE",
]);

/** True for a failure of the machine (disk full, read-only file system, no permission). */
export function isEnvironmentError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && ENVIRONMENT_CODES.has(code)) return true;
  return error instanceof Deno.errors.PermissionDenied ||
    /\(os error (1|5|12|13|23|24|28|30|116|122)\)/.test(error.message);
}

/** True for "no space left on device" and "disk quota exceeded". */
export function isOutOfSpace(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "ENOSPC" || code === "EDQUOT" || /\(os error (28|122)\)/.test(error.message);
}

/**
 * The one line the CLI prints for an error, and the exit code: a UserError's or an environment
 * failure's message as it is (exit 1, or the UserError's code), anything else, a bug, with a hint
 * to rerun with --debug for the stack trace.
 */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UserError) return { message: error.message, exitCode: error.exitCode };
  if (isEnvironmentError(error)) return { message: error.message, exitCode: 1 };
  const text = error instanceof Error ? error.message : String(error);
  return { message: `${text} (an internal error: --debug shows where)`, exitCode: 1 };
}
