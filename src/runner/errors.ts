/** How a run ends when it does not finish: interrupted, or a job failed. */
import { UserError } from "../errors.ts";

export { isEnvironmentError, isOutOfSpace } from "../errors.ts";

/**
 * Why a run was asked to stop: the signal (SIGINT: Ctrl-C, SIGTERM: a scheduler or `kill`), and
 * the exit code the shell convention gives it (128 + signal number: 130, 143).
 */
export class Interruption extends Error {
  readonly signal: "SIGINT" | "SIGTERM";
  readonly exitCode: number;
  constructor(signal: "SIGINT" | "SIGTERM") {
    super(`${signal === "SIGINT" ? "interrupted (SIGINT)" : "terminated (SIGTERM)"}`);
    this.name = "Interruption";
    this.signal = signal;
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}

/** The run was stopped (a signal): the CLI exits 130 or 143. No partial artifact is left behind. */
export class RunInterrupted extends UserError {
  constructor(jobId?: string, reason?: unknown) {
    const exitCode = reason instanceof Interruption ? reason.exitCode : 130;
    const what = reason instanceof Interruption && reason.signal === "SIGTERM"
      ? "terminated"
      : "interrupted";
    super(
      jobId === undefined ? what : `${what} during ${jobId}; its partial output was discarded`,
      { exitCode },
    );
    this.name = "RunInterrupted";
  }
}

/** A job threw something that is not a UserError (a bug in a stage, most likely). */
export class JobFailed extends Error {
  readonly jobId: string;
  constructor(jobId: string, cause: unknown) {
    super(`Job ${jobId} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "JobFailed";
    this.jobId = jobId;
  }
}
