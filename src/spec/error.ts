/**
 * Where a spec value was written, and the error that points there:
 * ```
 * pipelines/x.yaml:12:7: train.lr: expected a number, got "2e-3x"
 *    12 |   lr: 2e-3x
 *       |       ^
 * ```
 */
import { UserError } from "../errors.ts";

/** A place in a source: a spec file, or a command-line argument (`--set`, `--var`). */
export interface Origin {
  /** What error messages show: a path relative to the working folder, or `--set` / `--var`. */
  label: string;
  /** Absolute path of the file, or null for a command-line argument. */
  path: string | null;
  /** 1-based line and column. */
  line: number;
  column: number;
  /** The whole source line, for the snippet. */
  lineText: string;
}

/** Text with the start offset of each line, to turn offsets into origins. */
export class SourceText {
  readonly #lineStarts: number[] = [0];
  constructor(
    readonly label: string,
    readonly path: string | null,
    readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") this.#lineStarts.push(i + 1);
    }
  }

  /** The origin of a character offset (clamped into the text). */
  origin(offset: number): Origin {
    const at = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.#lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.#lineStarts[middle] ?? 0) <= at) low = middle;
      else high = middle - 1;
    }
    const start = this.#lineStarts[low] ?? 0;
    const end = this.text.indexOf("\n", start);
    const lineText = this.text.slice(start, end === -1 ? undefined : end).replace(/\r$/, "");
    return { label: this.label, path: this.path, line: low + 1, column: at - start + 1, lineText };
  }
}

/** `label:line:column` followed by the line and a caret under the column. */
export function formatAt(origin: Origin, message: string): string {
  const gutter = String(origin.line).padStart(5);
  const blank = " ".repeat(gutter.length);
  const caret = " ".repeat(Math.max(0, origin.column - 1)) + "^";
  return `${origin.label}:${origin.line}:${origin.column}: ${message}\n` +
    `${gutter} | ${origin.lineText}\n${blank} | ${caret}`;
}

/** A mistake in a pipeline spec. Exit code 2, like any usage error. */
export class SpecError extends UserError {
  /** The message without location or snippet. */
  readonly reason: string;
  readonly origin: Origin | null;
  constructor(origin: Origin | null, reason: string) {
    super(origin === null ? reason : formatAt(origin, reason), { exitCode: 2 });
    this.name = "SpecError";
    this.reason = reason;
    this.origin = origin;
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** ` (did you mean "x"?)` for the closest candidate within a few edits, else "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const lower = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === null ? "" : ` (did you mean "${best}"?)`;
}
