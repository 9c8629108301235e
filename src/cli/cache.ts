/**
 * `deno task cache ls` lists artifacts (kind, job, size, age, last use); `deno task cache gc`
 * removes temp leftovers of killed runs and corrupt artifacts, and on request unused or
 * superseded ones, never what a running pipeline uses or is computing.
 */
import { parseArgs } from "node:util";
import { collectGarbage, listArtifacts } from "../cache/gc.ts";
import { CacheStore, defaultCacheRoot } from "../cache/store.ts";

const USAGE = `usage: deno task cache ls [--cache DIR] [--verify] [--json]
       deno task cache gc [--cache DIR] [--dry-run] [--unused-days N] [--unreachable] [--verify]

  --cache DIR        cache folder (default $RANKONE_CACHE or .cache/rankone)
  --verify           rehash every file instead of trusting unchanged size and mtime
  --json             ls: one JSON object per artifact
  --dry-run          gc: say what would be removed, remove nothing
  --unused-days N    gc: also remove artifacts not used for N days
  --unreachable      gc: also remove artifacts no job's last run points to (superseded)`;

export async function main(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        cache: { type: "string" },
        verify: { type: "boolean" },
        json: { type: "boolean" },
        "dry-run": { type: "boolean" },
        "unused-days": { type: "string" },
        unreachable: { type: "boolean" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const values = parsed.values;
  const unusedDays = values["unused-days"] === undefined
    ? undefined
    : Number(values["unused-days"]);
  const gcOnly = values["dry-run"] || unusedDays !== undefined || values.unreachable;
  if (
    (sub !== "ls" && sub !== "gc") || (sub === "ls" && gcOnly) || (sub === "gc" && values.json) ||
    (unusedDays !== undefined && !(unusedDays >= 0))
  ) {
    console.error(USAGE);
    return 2;
  }
  const store = await CacheStore.open(values.cache ?? defaultCacheRoot());
  const verify = values.verify ? "full" : "stamp";
  if (sub === "ls") {
    const infos = await listArtifacts(store, { verify });
    if (values.json) {
      for (const info of infos) console.log(JSON.stringify(info));
      return 0;
    }
    const now = Date.now();
    const rows = infos.map((info) => [
      info.kind ?? "?",
      info.jobId ?? "?",
      formatBytes(info.bytes),
      info.createdAt ? formatAge(now - info.createdAt.getTime()) : "?",
      info.lastUsed ? formatAge(now - info.lastUsed.getTime()) : "?",
      info.problem !== null
        ? `CORRUPT: ${info.problem}`
        : info.indexedBy.length > 0
        ? "current"
        : "superseded",
      info.key.slice(0, 12),
    ]);
    printTable(["KIND", "JOB", "SIZE", "AGE", "USED", "STATE", "KEY"], rows);
    const total = infos.reduce((sum, info) => sum + info.bytes, 0);
    console.log(`${infos.length} artifacts, ${formatBytes(total)} in ${store.root}`);
    return 0;
  }
  const report = await collectGarbage(store, {
    dryRun: values["dry-run"],
    unusedDays,
    unreachable: values.unreachable,
    verify,
  });
  const verb = report.dryRun ? "would remove" : "removed";
  for (const removal of report.removed) {
    console.log(
      `${verb} ${removal.what.padEnd(11)} ${
        formatBytes(removal.bytes).padStart(9)
      }  ${removal.detail}`,
    );
  }
  for (const kept of report.kept) {
    console.log(
      `kept ${kept.what.padEnd(11)} ${
        formatBytes(kept.bytes).padStart(9)
      }  ${kept.detail} (in use)`,
    );
  }
  console.log(
    `${verb} ${report.removed.length} entries, ${formatBytes(report.bytes)} from ${store.root}` +
      (report.kept.length > 0 ? `; kept ${report.kept.length} in use by a running pipeline` : ""),
  );
  return 0;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, ms / 1000);
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}
