/**
 * The run display. On a terminal: a live block (counts, the running job's progress bar with rate
 * and ETA, the last finished jobs) redrawn in place, with log lines scrolling above it. Elsewhere
 * (CI, files): plain lines, progress throttled to one line per job every few seconds:
 *   [3/12] train/task-03-DTD: 120/500 it, 4.1 it/s, ETA 1m33s
 */
import type { HashProgress } from "../cache/sources.ts";
import type { JobResult, RunDisplay, RunSummary } from "../runner/types.ts";

export interface ProgressDisplayOptions {
  /** Live redrawing display; defaults to whether stderr is a terminal. */
  tty?: boolean;
  /** Where text goes; defaults to stderr. */
  write?: (text: string) => void;
  /** Milliseconds between progress lines (plain) or redraws (tty). */
  throttleMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Terminal width for the bar and line truncation. */
  columns?: number;
}

interface Running {
  id: string;
  label: string;
  startedAt: number;
  done: number;
  total: number;
  note?: string;
  /** When progress first moved, and at which count: the rate excludes setup time before it. */
  firstAt?: number;
  firstDone?: number;
  /** When its last progress line was written (plain display). */
  lastLine: number;
}

/** Running jobs the terminal block shows at most (a wide parallel run has more). */
const SHOWN_RUNNING = 4;

export function createProgressDisplay(options: ProgressDisplayOptions = {}): RunDisplay {
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const now = options.now ?? (() => performance.now());
  const throttle = options.throttleMs ?? (tty ? 100 : 5000);
  const columns = options.columns ?? terminalColumns();
  let startedAt = now();
  let ids: string[] = [];
  // Several at once with a parallel executor (`--jobs N`, Slurm).
  const running = new Map<string, Running>();
  let lastEmit = -Infinity;
  let drawnLines = 0;
  const finished: string[] = [];
  const counts = { ran: 0, cached: 0 };

  const clip = (line: string) => (line.length > columns ? `${line.slice(0, columns - 1)}…` : line);
  const progressText = (job: Running): string => {
    const parts = [`${job.done}/${job.total} it`];
    const t = now();
    if (job.firstAt !== undefined && job.firstDone !== undefined && t > job.firstAt) {
      const rate = (job.done - job.firstDone) / ((t - job.firstAt) / 1000);
      if (rate > 0) {
        parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} it/s`);
        parts.push(`ETA ${formatDuration((job.total - job.done) / rate)}`);
      }
    }
    return parts.join(", ") + (job.note ? ` (${job.note})` : "");
  };

  // TTY: erase the live block, print scrolling text, draw the block again.
  const redraw = (above = "") => {
    let text = drawnLines > 0 ? `\x1b[${drawnLines}A\r\x1b[J` : "";
    text += above;
    const block: string[] = [];
    const elapsed = formatDuration((now() - startedAt) / 1000);
    const position = counts.ran + counts.cached + running.size;
    block.push(
      `rankone ${position}/${ids.length} jobs · ${counts.ran} ran · ${counts.cached} cached · ${elapsed}`,
    );
    for (const line of finished.slice(-3)) block.push(`  ✓ ${line}`);
    const shown = [...running.values()].slice(0, SHOWN_RUNNING);
    for (const job of shown) {
      const width = Math.max(10, Math.min(30, columns - 60));
      const filled = job.total > 0 ? Math.round((job.done / job.total) * width) : 0;
      const bar = "█".repeat(Math.min(width, filled)) + "░".repeat(Math.max(0, width - filled));
      block.push(`  ▸ ${job.label}`);
      block.push(`    ${bar} ${progressText(job)}`);
    }
    if (running.size > shown.length) block.push(`  ▸ and ${running.size - shown.length} more`);
    text += block.map((line) => `${clip(line)}\n`).join("");
    drawnLines = block.length;
    write(text);
    lastEmit = now();
  };
  const line = (text: string) => {
    if (tty) redraw(`${clip(text)}\n`);
    else write(`${text}\n`);
  };

  return {
    begin(jobIds) {
      ids = jobIds;
      startedAt = now();
      if (tty) redraw();
    },
    jobStart(id, info) {
      const label = `[${info.index}/${info.total}] ${id}`;
      running.set(id, { id, label, startedAt: now(), done: 0, total: 0, lastLine: -Infinity });
      line(`${label}: run (${info.reason}: ${info.detail})`);
    },
    jobProgress(id, done, total, note) {
      const job = running.get(id);
      if (job === undefined) return;
      if (job.firstAt === undefined) {
        job.firstAt = now();
        job.firstDone = done;
      }
      job.done = done;
      job.total = total;
      job.note = note;
      if (tty) {
        if (now() - lastEmit >= throttle || done >= total) redraw();
      } else if (now() - job.lastLine >= throttle || done >= total) {
        write(`${job.label}: ${progressText(job)}\n`);
        job.lastLine = now();
      }
    },
    jobLog(id, text) {
      line(`${running.get(id)?.label ?? id}: ${text}`);
    },
    jobEnd(result: JobResult, info) {
      if (result.status === "cached") {
        counts.cached++;
        // Another process computed it while this one waited for its lock.
        if (running.delete(result.id)) {
          line(`[${info.index}/${info.total}] ${result.id}: ${result.detail ?? "cached"}`);
          return;
        }
        if (tty && now() - lastEmit >= throttle) redraw();
        return;
      }
      counts.ran++;
      running.delete(result.id);
      const text = `[${info.index}/${info.total}] ${result.id}: done in ${
        formatDuration(result.seconds)
      } (${result.digest.slice(0, 12)})`;
      finished.push(text.replace(/^\[\d+\/\d+\] /, ""));
      line(text);
    },
    end(summary: RunSummary, error?: unknown) {
      const state = error === undefined ? "finished" : "stopped";
      const text = `${state}: ${summary.ran} ran, ${summary.cached} cached in ${
        formatDuration(summary.seconds)
      }`;
      running.clear();
      if (tty) {
        redraw();
        write(`${text}\n`);
        drawnLines = 0;
      } else write(`${text}\n`);
    },
  };
}

/**
 * Progress of hashing sources seen for the first time (a large data root): one line redrawn on a
 * terminal, a line every few seconds elsewhere; nothing for small sources.
 */
export function createHashProgress(
  options: Pick<ProgressDisplayOptions, "tty" | "write" | "now"> = {},
): (progress: HashProgress) => void {
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const now = options.now ?? (() => performance.now());
  let startedAt = 0;
  let path = "";
  let last = -Infinity;
  return (progress) => {
    if (progress.total < 1000 && progress.totalBytes < 256 * 1024 * 1024) return;
    const t = now();
    if (progress.path !== path) {
      path = progress.path;
      startedAt = t;
    }
    const finished = progress.done === progress.total;
    if (!finished && t - last < (tty ? 200 : 5000)) return;
    last = t;
    const seconds = (t - startedAt) / 1000;
    const rate = seconds > 0 ? progress.bytes / seconds : 0;
    const eta = rate > 0 ? (progress.totalBytes - progress.bytes) / rate : Infinity;
    const text = `hashing ${path}: ${progress.done}/${progress.total} files, ` +
      `${mebibytes(progress.bytes)}/${mebibytes(progress.totalBytes)} MiB` +
      (finished ? ` in ${formatDuration(seconds)}` : `, ETA ${formatDuration(eta)}`);
    write(tty ? `\r\x1b[K${text}${finished ? "\n" : ""}` : `${text}\n`);
  };
}

function mebibytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(0);
}

/** 0.4s, 12.3s, 1m33s, 2h05m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 100;
  }
}
