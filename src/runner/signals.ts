/**
 * Ctrl-C handling for a run: the first SIGINT aborts the returned signal (the running job stops
 * at its next check of ctx.signal, its temporary output is removed, runJobs throws
 * RunInterrupted, the CLI exits 130); a second SIGINT exits at once with 130, leaving at most a
 * temporary folder that the next run ignores and `cache gc` removes.
 */
export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

export function interruptOnSigint(options: { onFirst?: () => void } = {}): Interrupt {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) Deno.exit(130);
    options.onFirst?.();
    controller.abort(new Error("interrupted"));
  };
  Deno.addSignalListener("SIGINT", handler);
  return {
    signal: controller.signal,
    dispose: () => Deno.removeSignalListener("SIGINT", handler),
  };
}
