/**
 * Named CLIP architectures: one YAML file per preset in `configs/models/` (snake_case keys, as in
 * open_clip's model_configs), read into a `ClipArch`.
 */
import { parseDocument } from "yaml";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import type { ClipArch, TextArch, VisionArch } from "./arch.ts";

const PRESET_DIR = fileURLToPath(new URL("../../configs/models/", import.meta.url));

const VISION_KEYS = {
  image_size: "imageSize",
  patch_size: "patchSize",
  width: "width",
  layers: "layers",
  heads: "heads",
  mlp_width: "mlpWidth",
} as const satisfies Record<string, keyof VisionArch>;

const TEXT_KEYS = {
  context_length: "contextLength",
  vocab_size: "vocabSize",
  width: "width",
  layers: "layers",
  heads: "heads",
  mlp_width: "mlpWidth",
} as const satisfies Record<string, keyof TextArch>;

/** Names of the presets in configs/models/, sorted. */
export function listArchPresets(): string[] {
  return [...Deno.readDirSync(PRESET_DIR)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".yaml"))
    .map((entry) => entry.name.slice(0, -".yaml".length))
    .sort();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readSection<K extends Record<string, string>>(
  value: unknown,
  keys: K,
  where: string,
): { [P in K[keyof K]]: number } {
  if (!isRecord(value)) throw new UserError(`${where}: expected a mapping`);
  const out: Record<string, number> = {};
  for (const key of Object.keys(value)) {
    if (!(key in keys)) {
      throw new UserError(
        `${where}.${key}: unknown key (expected ${Object.keys(keys).join(", ")})`,
      );
    }
  }
  for (const [key, field] of Object.entries(keys)) {
    const entry = value[key];
    if (typeof entry !== "number" || !Number.isInteger(entry) || entry <= 0) {
      throw new UserError(`${where}.${key}: expected a positive integer, got ${String(entry)}`);
    }
    out[field] = entry;
  }
  return out as { [P in K[keyof K]]: number };
}

/** Checks that an architecture is buildable: heads divide widths, patches tile the image. */
export function checkArch(arch: ClipArch, where: string): void {
  const { vision, text } = arch;
  if (vision.width % vision.heads !== 0) {
    throw new UserError(
      `${where}: vision width ${vision.width} is not divisible by ${vision.heads} heads`,
    );
  }
  if (text.width % text.heads !== 0) {
    throw new UserError(
      `${where}: text width ${text.width} is not divisible by ${text.heads} heads`,
    );
  }
  if (vision.imageSize % vision.patchSize !== 0) {
    throw new UserError(
      `${where}: image size ${vision.imageSize} is not a multiple of patch size ${vision.patchSize}`,
    );
  }
}

/** Parses a preset's YAML text; `source` names the file in errors. */
export function parseArchPreset(text: string, source: string): ClipArch {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new UserError(`${source}: ${document.errors[0]!.message}`);
  }
  const root: unknown = document.toJS();
  if (!isRecord(root)) throw new UserError(`${source}: expected a mapping at the top level`);
  const allowed = ["name", "embed_dim", "vision", "text"];
  for (const key of Object.keys(root)) {
    if (!allowed.includes(key)) {
      throw new UserError(`${source}: ${key}: unknown key (expected ${allowed.join(", ")})`);
    }
  }
  const { name, embed_dim: embedDim } = root;
  if (typeof name !== "string" || name === "") {
    throw new UserError(`${source}: name: expected a string`);
  }
  if (typeof embedDim !== "number" || !Number.isInteger(embedDim) || embedDim <= 0) {
    throw new UserError(`${source}: embed_dim: expected a positive integer`);
  }
  const arch: ClipArch = {
    name,
    embedDim,
    vision: readSection(root.vision, VISION_KEYS, `${source}: vision`),
    text: readSection(root.text, TEXT_KEYS, `${source}: text`),
  };
  checkArch(arch, source);
  return arch;
}

/**
 * The architecture of a named preset (`ViT-B-16`, `clip-tiny`) or of a preset file given by path
 * (anything ending in `.yaml`/`.yml`).
 */
export function loadArchPreset(nameOrPath: string): ClipArch {
  const isPath = /\.ya?ml$/.test(nameOrPath);
  const path = isPath ? nameOrPath : `${PRESET_DIR}${nameOrPath}.yaml`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const known = isPath ? "" : ` (known presets: ${listArchPresets().join(", ")})`;
      throw new UserError(`Unknown model architecture "${nameOrPath}": no ${path}${known}`, {
        cause: error,
      });
    }
    throw error;
  }
  return parseArchPreset(text, path);
}
