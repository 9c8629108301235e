/**
 * What a worker (`deno task job KEY`, src/cli/job.ts) prints while it executes one job from its
 * cache record, one event per line, `<type> <json>`:
 *
 *   job {"key":"3f2a…","id":"train/task-01-DTD","host":"node17","pid":4242,"slurmJob":"1234","backend":"wasm"}
 *   progress {"done":12,"total":40,"note":"loss 0.5301"}
 *   log "DTD: loss 2.2664 -> 1.6502"
 *   done {"status":"ran","digest":"064e…","seconds":12.3,"runSeconds":12.1}
 *   failed {"message":"train/task-01-DTD: ...","exitCode":1}
 *
 * The driver reads these from a local worker's stdout, or from a Slurm job's log file, where they
 * are also what a person reads; any other line (a runtime warning, a stack trace) is kept as text.
 */

export type WorkerEvent =
  | {
    type: "job";
    key: string;
    id: string;
    host: string;
    pid: number;
    /** SLURM_JOB_ID, when the worker runs as a Slurm job. */
    slurmJob: string | null;
    backend: string;
  }
  | { type: "progress"; done: number; total: number; note?: string }
  | { type: "log"; line: string }
  | { type: "done"; status: "ran" | "cached"; digest: string; seconds: number; runSeconds: number }
  | { type: "failed"; message: string; exitCode: number };

const TYPES = new Set(["job", "progress", "log", "done", "failed"]);

export function formatEvent(event: WorkerEvent): string {
  if (event.type === "log") return `log ${JSON.stringify(event.line)}`;
  const { type, ...fields } = event;
  return `${type} ${JSON.stringify(fields)}`;
}

/** The event a line holds, or null for any other text. */
export function parseEvent(line: string): WorkerEvent | null {
  const space = line.indexOf(" ");
  const type = line.slice(0, space);
  if (space <= 0 || !TYPES.has(type)) return null;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(space + 1));
  } catch {
    return null;
  }
  if (type === "log") return typeof value === "string" ? { type, line: value } : null;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  return { type, ...value } as WorkerEvent;
}

/** A request to a serving worker (`deno task job --serve`): one JSON line on its stdin. */
export interface WorkerRequest {
  key: string;
  force: boolean;
}

/**
 * Splits a byte stream into lines (without their line ends); a last unterminated line counts.
 * Aborting `signal` ends the lines at once, also while a read waits.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let buffered = "";
  try {
    while (!signal?.aborted) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf("\n")) !== -1) {
        yield buffered.slice(0, end).replace(/\r$/, "");
        buffered = buffered.slice(end + 1);
      }
    }
    if (buffered !== "" && !signal?.aborted) yield buffered;
  } finally {
    signal?.removeEventListener("abort", cancel);
    await reader.cancel().catch(() => {});
  }
}
