/**
 * SIGINT (Ctrl-C) and SIGTERM (`kill`, a scheduler's time limit) during a run. The first one
 * aborts the returned signal: the running job stops at its next check of ctx.signal (every
 * training step and evaluation batch checks it), its temporary output is removed, its lock
 * released, runJobs throws RunInterrupted and the CLI exits 130 (SIGINT) or 143 (SIGTERM). A
 * second one exits at once with that code, after removing (synchronously) the temporary folders,
 * locks and run registration this process holds.
 */
import { cleanUpNow } from "../cache/cleanup.ts";
import { Interruption } from "./errors.ts";

export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

export function interruptOnSignals(
  options: { onFirst?: (interruption: Interruption) => void } = {},
): Interrupt {
  const controller = new AbortController();
  const handlers = SIGNALS.map((name) => {
    const handler = () => {
      const interruption = new Interruption(name);
      if (controller.signal.aborted) {
        cleanUpNow();
        Deno.exit(interruption.exitCode);
      }
      options.onFirst?.(interruption);
      controller.abort(interruption);
    };
    Deno.addSignalListener(name, handler);
    return { name, handler };
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const { name, handler } of handlers) Deno.removeSignalListener(name, handler);
    },
  };
}
