import assert from "node:assert/strict";
import { formatEvent, parseEvent, readLines, type WorkerEvent } from "./worker_protocol.ts";

Deno.test("worker events print as `<type> <json>` lines and parse back to the same events", () => {
  const events: WorkerEvent[] = [
    {
      type: "job",
      key: "a".repeat(64),
      id: "train/task-01-DTD",
      host: "node17",
      pid: 42,
      slurmJob: "1234",
      backend: "wasm",
    },
    { type: "progress", done: 3, total: 40, note: "loss 0.5" },
    { type: "log", line: 'DTD: loss 2.26 -> 1.65 "quoted"' },
    { type: "done", status: "ran", digest: "d".repeat(64), seconds: 1.5, runSeconds: 1.25 },
    { type: "failed", message: "train/task-01-DTD: no", exitCode: 1 },
  ];
  const lines = events.map(formatEvent);
  assert.equal(lines[2], 'log "DTD: loss 2.26 -> 1.65 \\"quoted\\""');
  assert.ok(lines[1]!.startsWith('progress {"done":3,'));
  assert.deepEqual(lines.map(parseEvent), events);
});

Deno.test("parseEvent keeps any other line as text: warnings, stack traces, Slurm's own messages", () => {
  for (
    const line of [
      "error: train/task-01-DTD: failed",
      "slurmstepd: error: *** JOB 12 ON node17 CANCELLED AT 2026-01-01T00:00:00 ***",
      "log not-json",
      "done [1]",
      "",
    ]
  ) assert.equal(parseEvent(line), null, line);
});

Deno.test("readLines splits a stream at newlines, keeps a last unterminated line, stops on abort", async () => {
  const chunks = ["a\nb", "c\r\n", "d"].map((text) => new TextEncoder().encode(text));
  const stream = ReadableStream.from(chunks);
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  assert.deepEqual(lines, ["a", "bc", "d"]);

  const abort = new AbortController();
  const endless = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("first\n"));
    },
  });
  const seen: string[] = [];
  for await (const line of readLines(endless, abort.signal)) {
    seen.push(line);
    abort.abort();
  }
  assert.deepEqual(seen, ["first"]);
});
