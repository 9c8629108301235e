/**
 * Who this process is, for names and records that several processes (on several machines
 * sharing the cache folder) write side by side: the host name, the pid, and the process's start
 * time, which tells a live process from a later one that reused its pid.
 */

/** The host name, reduced to characters safe in a file name (`[A-Za-z0-9-]`). */
export const HOST: string = (() => {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9-]+/g, "-") || "host";
  } catch {
    return "host";
  }
})();

/** This process's start time in clock ticks since boot (Linux), or 0 where it cannot be read. */
export const PROCESS_START: number = processStart(Deno.pid) ?? 0;

/**
 * Start time of process `pid` (field 22 of /proc/<pid>/stat), null when there is no such
 * process, 0 when /proc is not available.
 */
export function processStart(pid: number): number | null {
  let text: string;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return 0;
  }
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(fields[19] ?? 0);
}

/**
 * Whether the process `pid` that started at `start` (0: unknown) still runs on this host. Where
 * /proc is not available, a process counts as alive: a heartbeat decides instead.
 */
export function processAlive(pid: number, start: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = processStart(pid);
  if (now === null) return false;
  return start === 0 || now === 0 || now === start;
}
