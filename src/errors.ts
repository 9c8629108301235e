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
