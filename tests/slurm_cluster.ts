/**
 * A one-node Slurm cluster for the length of a test: munged, slurmctld and slurmd (Debian's
 * `munge` and `slurm-wlm`, which `.ci/run` installs) started from a generated configuration in a
 * temporary folder, with their own ports, key, state and spool folders, so they clash with nothing
 * else on the machine, and stopped afterwards. The node is this machine with its own CPU count;
 * `SelectType=select/cons_tres` with cores as the consumable resource, so jobs asking for one CPU
 * each run side by side. Client commands reach it through `env` (SLURM_CONF).
 */
import { join } from "node:path";

export interface SlurmCluster {
  /** Environment for sbatch, squeue, scancel (and rankone's driver) to use this cluster. */
  env: { SLURM_CONF: string };
  /** The node's CPUs: jobs at once. */
  cpus: number;
  stop(): Promise<void>;
}

const DAEMONS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"];

/** Why this machine cannot start the cluster (to skip with), or null when it can. */
export function slurmMissing(): string | null {
  const path = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  const absent = DAEMONS.filter((name) =>
    !path.some((dir) => {
      try {
        return Deno.statSync(join(dir, name)).isFile;
      } catch {
        return false;
      }
    })
  );
  if (absent.length > 0) {
    return `Slurm and munge are not installed (${absent.join(", ")} missing; ` +
      `apt-get install slurm-wlm munge, as .ci/run does)`;
  }
  if (Deno.uid() !== 0) return "slurmd must run as root to start jobs";
  return null;
}

/** A free TCP port on this machine (bound, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function daemon(command: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(command, { args, env, stdout: "null", stderr: "null" }).spawn();
}

async function output(command: string, args: string[], env: Record<string, string> = {}) {
  const result = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: result.code, stdout: decode(result.stdout), stderr: decode(result.stderr) };
}

async function waitUntil(what: string, ready: () => Promise<boolean>, seconds = 30) {
  const deadline = performance.now() + seconds * 1000;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`Slurm test cluster: ${what} timed out`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  const dir = await Deno.makeTempDir({ prefix: "rankone-slurm-" });
  const node = "rankone-test";
  const host = Deno.hostname().split(".")[0]!;
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    // Jobs first (their workers stop on SIGTERM), then the daemons, newest first.
    const env = { SLURM_CONF: join(dir, "slurm.conf") };
    if (children.length === 3) {
      await output("scancel", ["--partition=rankone"], env);
      await waitUntil("the jobs' end", async () => {
        const queue = await output("squeue", ["--noheader", "--partition=rankone"], env);
        return queue.code !== 0 || queue.stdout.trim() === "";
      }).catch(() => {});
    }
    for (const child of children.reverse()) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const sub of ["key", "run", "state", "spool", "log"]) await Deno.mkdir(join(dir, sub));
    // munged insists on a private key folder and a world-reachable socket folder.
    await Deno.chmod(join(dir, "key"), 0o700);
    await Deno.chmod(join(dir, "run"), 0o755);
    await Deno.chmod(dir, 0o755);
    const key = join(dir, "key", "munge.key");
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
    const socket = join(dir, "run", "munge.socket");
    children.push(daemon("munged", [
      "--foreground",
      "--force",
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--log-file=${join(dir, "log", "munged.log")}`,
      `--pid-file=${join(dir, "run", "munged.pid")}`,
      `--seed-file=${join(dir, "key", "munged.seed")}`,
    ]));
    await waitUntil("munged's socket", () => Promise.resolve(exists(socket)));

    // This machine as slurmd sees it: CPUs, sockets, cores, threads, memory.
    const hardware = (await output("slurmd", ["-C"])).stdout.split("\n")[0] ?? "";
    const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(hardware)?.[1]);
    const cpus = field("CPUs") || navigator.hardwareConcurrency;
    const memory = Math.max(512, Math.floor((field("RealMemory") || 2048) / 2));
    const conf = join(dir, "slurm.conf");
    await Deno.writeTextFile(
      conf,
      [
        "ClusterName=rankonetest",
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${freePort()}`,
        `SlurmdPort=${freePort()}`,
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${join(dir, "state")}`,
        `SlurmdSpoolDir=${join(dir, "spool")}`,
        `SlurmctldPidFile=${join(dir, "run", "slurmctld.pid")}`,
        `SlurmdPidFile=${join(dir, "run", "slurmd.pid")}`,
        `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
        `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        // A freed CPU takes the next queued job within a second (the defaults batch scheduling
        // decisions over ~3 s, for throughput on large clusters).
        "SchedulerParameters=batch_sched_delay=0,sched_interval=1",
        "SwitchType=switch/none",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "ReturnToService=2",
        // Finished jobs stay visible to squeue for 10 minutes, as on a real cluster.
        "MinJobAge=600",
        `NodeName=${node} NodeHostname=${host} NodeAddr=127.0.0.1 CPUs=${cpus} ` +
        `RealMemory=${memory} State=UNKNOWN`,
        `PartitionName=rankone Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
        "",
      ].join("\n"),
    );
    const env = { SLURM_CONF: conf };
    children.push(daemon("slurmctld", ["-D", "-f", conf], env));
    children.push(daemon("slurmd", ["-D", "-f", conf, "-N", node], env));
    await waitUntil("the node coming up idle", async () => {
      const info = await output("sinfo", ["--noheader", "--format=%T", `--nodes=${node}`], env);
      return info.code === 0 && info.stdout.trim() === "idle";
    });
    return { env, cpus, stop };
  } catch (error) {
    const logs = await Deno.readTextFile(join(dir, "log", "slurmctld.log")).catch(() => "");
    await stop();
    throw new Error(`${(error as Error).message}\n${logs.split("\n").slice(-20).join("\n")}`);
  }
}
