/**
 * `deno task gpu-kit [--out DIR]`: builds the device kit (`.gpu-kit/`, git-ignored), everything
 * `scripts/gpu-check.sh` needs on a linux-x64 GPU machine without network, within 64 MiB:
 *
 * - `deno.xz`: this Deno binary, xz-compressed (reused while the binary is the same, by digest);
 * - `node_modules.tar.xz`: the npm modules as `deno install` lays them out for this lockfile,
 *   pruned to what a run on linux-x64 loads: each TF.js package's Node bundle (its `main`) and
 *   wasm binaries, not its other bundles, ES modules, maps or typings; ONNX Runtime's linux-x64
 *   native library only; other platforms' native packages reduced to their package.json; no
 *   source maps or typings at all;
 * - `libvulkan1_*.deb`: the Vulkan loader (`apt-get download`), which Deno's WebGPU needs and a
 *   compute-only GPU image may lack; the check unpacks it only where `libvulkan.so.1` is missing;
 * - `fixtures/clip-tiny/`: the shared clip-tiny fixture (OpenAI layout and its embeddings) for the
 *   parity check, where `../shared/` has it;
 * - `manifest.json`: versions, each file's bytes and SHA-256, the total.
 *
 * Exit 1 when the kit would exceed the budget (nothing is left half-written: each file is written
 * to a temporary name and renamed).
 */
import { fileURLToPath } from "node:url";
import { commandOptions } from "../src/cli/args.ts";
import { sharedPath } from "../tests/shared.ts";

const USAGE = "usage: deno task gpu-kit [--out DIR]";
const REPO = fileURLToPath(new URL("../", import.meta.url));
export const KIT_BUDGET_BYTES = 64 * 2 ** 20;

/** What the pruning needs to know of one npm package. */
export interface PackageFacts {
  /** Its `main` file, relative to the package folder (e.g. `dist/tf-core.node.js`). */
  main: string | null;
  /** A native package of another platform (e.g. `@img+sharp-linuxmusl-x64@0.35.5`). */
  otherPlatform: boolean;
}

/** Platform folders and packages other than linux-x64 (glibc): not loaded on the GPU machine. */
const OTHER_PLATFORM = /(^|[/+-])(darwin|win32|linuxmusl|arm64|armv7|freebsd)([/@-]|$)/;

/** Whether `.deno/<folderName>` is a native package of a platform other than linux-x64. */
export function isOtherPlatform(folderName: string): boolean {
  return OTHER_PLATFORM.test(folderName);
}

/**
 * Whether the kit keeps `file` (relative to its package folder) of a package: false for source
 * maps, typings and docs; for a bundled package (its `main` is a `*.node.js` bundle under dist/,
 * as TF.js ships), true in dist/ only for that bundle and the wasm binaries it loads; false for
 * other platforms' native binaries. Another platform's package keeps its package.json only: Deno
 * checks that each package of the lockfile is installed, and would fetch a missing one.
 */
export function keepsFile(file: string, facts: PackageFacts): boolean {
  if (facts.otherPlatform) return file === "package.json";
  if (/\.(map|d\.ts|d\.mts|d\.cts|md|markdown|html)$/i.test(file)) return false;
  if (OTHER_PLATFORM.test(file)) return false;
  const main = facts.main?.replace(/^\.\//, "") ?? null;
  if (main !== null && /^dist\/[^/]+\.node\.js$/.test(main) && file.startsWith("dist/")) {
    return file === main || file.endsWith(".wasm");
  }
  return true;
}

async function run(command: string, args: string[], options: { cwd?: string } = {}) {
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `xz` of `source` into `target`, through a temporary file. */
async function compress(source: string, target: string): Promise<void> {
  const partial = `${target}.tmp-${Deno.pid}`;
  const file = await Deno.open(partial, { write: true, create: true, truncate: true });
  const child = new Deno.Command("xz", {
    args: ["-9", "-T0", "-c", source],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  await child.stdout.pipeTo(file.writable);
  if (!(await child.status).success) throw new Error(`xz ${source} failed`);
  await Deno.rename(partial, target);
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const relative = `${prefix}${entry.name}`;
    if (entry.isDirectory) files.push(...await walk(`${dir}/${entry.name}`, `${relative}/`));
    else if (entry.isFile) files.push(relative);
  }
  return files;
}

/**
 * Installs the lockfile's npm modules into a scratch copy of the project (from Deno's cache, as
 * `deno install` lays them out, with its setup cache, so that a run offline installs nothing),
 * prunes them (`keepsPackage`, `keepsFile`) and packs them into `target` (tar.xz).
 */
async function packNodeModules(target: string): Promise<{ files: number; bytes: number }> {
  const scratch = await Deno.makeTempDir({ prefix: "gpu-kit-" });
  try {
    for (const name of ["deno.json", "deno.lock"]) {
      await Deno.copyFile(`${REPO}${name}`, `${scratch}/${name}`);
    }
    await Deno.writeTextFile(`${scratch}/entry.ts`, "");
    await run(Deno.execPath(), ["install", "--quiet"], { cwd: scratch });
    const packages = `${scratch}/node_modules/.deno`;
    let files = 0;
    let bytes = 0;
    for await (const entry of Deno.readDir(packages)) {
      if (!entry.isDirectory || entry.name === "node_modules") continue;
      // .deno/<name@version>/node_modules/<name>: the package itself (scoped: @scope/name).
      const inner = `${packages}/${entry.name}/node_modules`;
      for (const packageDir of await packageDirs(inner)) {
        const facts = {
          main: await packageMain(packageDir),
          otherPlatform: isOtherPlatform(entry.name),
        };
        for (const file of await walk(packageDir)) {
          if (keepsFile(file, facts)) {
            files++;
            bytes += await ownCopy(`${packageDir}/${file}`);
          } else {
            await Deno.remove(`${packageDir}/${file}`);
          }
        }
      }
    }
    const partial = `${target}.tmp-${Deno.pid}`;
    try {
      await run("tar", ["-cJf", partial, "node_modules"], { cwd: scratch });
      await Deno.rename(partial, target);
    } finally {
      await Deno.remove(partial).catch(() => {});
    }
    return { files, bytes };
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/**
 * Replaces `path` by a copy of itself; its bytes. `deno install` hard-links files from Deno's
 * cache, where another install on the machine can add a link while tar reads the file (tar then
 * fails: "file changed as we read it").
 */
async function ownCopy(path: string): Promise<number> {
  const copy = `${path}.tmp-${Deno.pid}`;
  await Deno.copyFile(path, copy);
  await Deno.rename(copy, path);
  return (await Deno.stat(path)).size;
}

/** The real (not symlinked) package folders under a `.deno/<name>/node_modules`. */
async function packageDirs(inner: string): Promise<string[]> {
  const dirs: string[] = [];
  for await (const entry of Deno.readDir(inner)) {
    if (entry.isSymlink) continue;
    if (entry.name.startsWith("@")) {
      for await (const scoped of Deno.readDir(`${inner}/${entry.name}`)) {
        if (!scoped.isSymlink) dirs.push(`${inner}/${entry.name}/${scoped.name}`);
      }
    } else if (entry.isDirectory) {
      dirs.push(`${inner}/${entry.name}`);
    }
  }
  return dirs;
}

async function packageMain(packageDir: string): Promise<string | null> {
  try {
    const json = JSON.parse(await Deno.readTextFile(`${packageDir}/package.json`));
    return typeof json.main === "string" ? json.main : null;
  } catch {
    return null;
  }
}

/** The Vulkan loader's .deb, fetched by apt into `dir`; its file name. */
async function downloadVulkanLoader(dir: string): Promise<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("libvulkan1_")) await Deno.remove(`${dir}/${entry.name}`);
  }
  await run("apt-get", ["download", "libvulkan1"], { cwd: dir });
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("libvulkan1_") && entry.name.endsWith(".deb")) return entry.name;
  }
  throw new Error("apt-get download libvulkan1 wrote no libvulkan1_*.deb");
}

async function copyFixture(dir: string): Promise<string[]> {
  const fixture = sharedPath("fixtures/clip-tiny");
  if (fixture === null) return [];
  const files = [
    "openai/model.safetensors",
    "pixels.npy",
    "tokens.npy",
    "image_embeds.npy",
    "text_embeds.npy",
  ];
  await Deno.mkdir(`${dir}/fixtures/clip-tiny/openai`, { recursive: true });
  for (const file of files) {
    await Deno.copyFile(`${fixture}/${file}`, `${dir}/fixtures/clip-tiny/${file}`);
  }
  return files.map((file) => `fixtures/clip-tiny/${file}`);
}

interface Manifest {
  built: string;
  deno: { version: string; sha256: string };
  files: Record<string, { bytes: number; sha256: string }>;
  totalBytes: number;
  budgetBytes: number;
  npm: { files: number; bytesUnpacked: number };
}

export async function main(args: string[]): Promise<number> {
  const values = commandOptions(args, {
    usage: USAGE,
    options: { out: { type: "string", default: `${REPO}.gpu-kit` } },
  });
  if (typeof values === "number") return values;
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    console.error(`the kit is for linux-x64 and packs this Deno; this is ${Deno.build.target}`);
    return 2;
  }
  const dir = values.out;
  await Deno.mkdir(dir, { recursive: true });
  // deno.xz.source: the SHA-256 of the binary deno.xz packs, so a rebuild reuses it.
  const denoDigest = await sha256(Deno.execPath());
  const packed = await Deno.readTextFile(`${dir}/deno.xz.source`).catch(() => null);
  const haveXz = await Deno.stat(`${dir}/deno.xz`).then(() => true, () => false);
  if (packed?.trim() === denoDigest && haveXz) {
    console.log("deno.xz: this Deno's binary, already packed");
  } else {
    console.log(`deno.xz: packing ${Deno.execPath()} (xz -9, a few minutes)`);
    await compress(Deno.execPath(), `${dir}/deno.xz`);
    await Deno.writeTextFile(`${dir}/deno.xz.source`, `${denoDigest}\n`);
  }
  console.log("node_modules.tar.xz: installing and pruning the lockfile's npm modules");
  const npm = await packNodeModules(`${dir}/node_modules.tar.xz`);
  const vulkan = await downloadVulkanLoader(dir);
  const fixture = await copyFixture(dir);
  if (fixture.length === 0) console.log("fixtures: ../shared/fixtures/clip-tiny absent, skipped");

  const files: Manifest["files"] = {};
  for (const file of ["deno.xz", "node_modules.tar.xz", vulkan, ...fixture]) {
    const path = `${dir}/${file}`;
    files[file] = { bytes: (await Deno.stat(path)).size, sha256: await sha256(path) };
  }
  const totalBytes = Object.values(files).reduce((sum, file) => sum + file.bytes, 0);
  const manifest: Manifest = {
    built: new Date().toISOString(),
    deno: { version: Deno.version.deno, sha256: denoDigest },
    files,
    totalBytes,
    budgetBytes: KIT_BUDGET_BYTES,
    npm: { files: npm.files, bytesUnpacked: npm.bytes },
  };
  const partial = `${dir}/manifest.json.tmp-${Deno.pid}`;
  await Deno.writeTextFile(partial, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.rename(partial, `${dir}/manifest.json`);
  for (const [file, { bytes }] of Object.entries(files)) {
    console.log(`  ${(bytes / 2 ** 20).toFixed(2).padStart(6)} MiB  ${file}`);
  }
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  console.log(`${dir}: ${mib(totalBytes)} MiB of ${mib(KIT_BUDGET_BYTES)} MiB`);
  if (totalBytes > KIT_BUDGET_BYTES) {
    console.error(`the kit is over its budget by ${mib(totalBytes - KIT_BUDGET_BYTES)} MiB`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
