/**
 * `deno task encode --model DIR [--pixels P.npy] [--tokens T.npy] [--images FILE...]
 *  [--text STR...] --out DIR [--engine E] [--device D] [--backend B] [--batch-size N]`
 *
 * CLIP image and/or text embeddings, float32, projected and NOT normalised, written as
 * `DIR/image_embeds.npy` [N, embed] and `DIR/text_embeds.npy` [N, embed].
 * `--pixels`: normalised NCHW float32 (or float64) [N, 3, size, size]. `--tokens`: int32 / int64
 * ids [N, context]. `--images` decodes files and applies CLIP's eval preprocessing; `--text`
 * tokenizes with the tokenizer files in the model folder. Several files or strings may follow
 * `--images` / `--text`, and either flag may repeat.
 *
 * `--engine auto|onnx|tfjs` and `--device auto|cpu|webgpu|cuda` choose the inference engine as a
 * pipeline's `inference:` does (src/clip/encoder.ts); `--backend` is TF.js's backend, used when
 * the engine is TF.js (and to load the weights).
 */
import { parseArgs } from "node:util";
import { useBackend } from "../clip/backend.ts";
import { type ClipEncoder, describeEncoder, openEncoder } from "../clip/encoder.ts";
import {
  BACKEND_NAMES,
  DEVICE_NAMES,
  type DeviceName,
  ENGINE_NAMES,
  type EngineName,
  isBackendName,
} from "../clip/settings.ts";
import { type ClipModel, disposeModel } from "../clip/model.ts";
import { loadTokenizer } from "../clip/tokenizer_files.ts";
import { loadClipModel } from "../clip/weights.ts";
import { UserError } from "../errors.ts";
import { decodeImage, preprocessImage } from "../io/image.ts";
import { npyToFloat32, npyToInt32, readNpy, writeNpy } from "../io/npy.ts";

const USAGE = "usage: deno task encode --model DIR [--pixels P.npy] [--tokens T.npy] " +
  "[--images FILE...] [--text STR...] --out DIR [--engine " + ENGINE_NAMES.join("|") +
  "] [--device " + DEVICE_NAMES.join("|") + "] [--backend " + BACKEND_NAMES.join("|") +
  "] [--batch-size 32]";

interface EncodeArgs {
  model: string;
  out: string;
  pixels?: string;
  tokens?: string;
  images: string[];
  texts: string[];
  engine: EngineName;
  device: DeviceName;
  backend: string;
  batchSize: number;
}

function isChoice<T extends string>(choices: readonly T[], value: string): value is T {
  return (choices as readonly string[]).includes(value);
}

/** Parses the arguments; a string is a usage error (exit 2). */
function parse(args: string[]): EncodeArgs | string | null {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: {
        model: { type: "string" },
        out: { type: "string" },
        pixels: { type: "string" },
        tokens: { type: "string" },
        images: { type: "string", multiple: true },
        text: { type: "string", multiple: true },
        engine: { type: "string", default: "auto" },
        device: { type: "string", default: "auto" },
        backend: { type: "string", default: "auto" },
        "batch-size": { type: "string", default: "32" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return (error as Error).message;
  }
  const { values, tokens } = parsed;
  if (values.help) return null;
  // `--images a.jpg b.jpg` / `--text "a cat" "a dog"`: values after the first go to the last list.
  const images = [...values.images ?? []];
  const texts = [...values.text ?? []];
  let list: string[] | null = null;
  for (const token of tokens) {
    if (token.kind === "option") {
      list = token.name === "images" ? images : token.name === "text" ? texts : null;
    } else if (token.kind === "positional") {
      if (list === null) return `unexpected argument "${token.value}"`;
      list.push(token.value);
    }
  }
  const missing = (["model", "out"] as const).filter((name) => values[name] === undefined);
  if (missing.length > 0) return `missing ${missing.map((name) => `--${name}`).join(", ")}`;
  if (values.pixels !== undefined && images.length > 0) {
    return "give --pixels or --images, not both";
  }
  if (values.tokens !== undefined && texts.length > 0) return "give --tokens or --text, not both";
  if (
    values.pixels === undefined && values.tokens === undefined && !images.length && !texts.length
  ) {
    return "nothing to encode: give --pixels, --images, --tokens or --text";
  }
  if (!isChoice(ENGINE_NAMES, values.engine)) {
    return `--engine must be one of ${ENGINE_NAMES.join(", ")}, got "${values.engine}"`;
  }
  if (!isChoice(DEVICE_NAMES, values.device)) {
    return `--device must be one of ${DEVICE_NAMES.join(", ")}, got "${values.device}"`;
  }
  if (!isBackendName(values.backend)) {
    return `--backend must be one of ${BACKEND_NAMES.join(", ")}, got "${values.backend}"`;
  }
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    return `--batch-size must be a positive integer, got "${values["batch-size"]}"`;
  }
  return {
    model: values.model!,
    out: values.out!,
    pixels: values.pixels,
    tokens: values.tokens,
    images,
    texts,
    engine: values.engine,
    device: values.device,
    backend: values.backend,
    batchSize,
  };
}

/** Encodes `rows` of `rowLength` values `batchSize` rows at a time: `[N, embed]` features. */
async function inBatches<T extends Float32Array | Int32Array>(
  rows: T,
  options: { rowLength: number; batchSize: number; embed: number },
  encode: (batch: T) => Promise<Float32Array>,
): Promise<Float32Array> {
  const { rowLength, batchSize, embed } = options;
  const count = rows.length / rowLength;
  const out = new Float32Array(count * embed);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    out.set(await encode(rows.subarray(start * rowLength, end * rowLength) as T), start * embed);
  }
  return out;
}

async function loadPixels(args: EncodeArgs, model: ClipModel): Promise<Float32Array> {
  const size = model.arch.vision.imageSize;
  if (args.pixels !== undefined) {
    const array = await readNpy(args.pixels);
    const [, channels, height, width] = array.shape;
    if (array.shape.length !== 4 || channels !== 3 || height !== size || width !== size) {
      throw new UserError(
        `${args.pixels}: pixels have shape [${array.shape.join(", ")}], expected ` +
          `[N, 3, ${size}, ${size}] for ${model.arch.name}`,
      );
    }
    return npyToFloat32(array, args.pixels);
  }
  const out = new Float32Array(args.images.length * 3 * size * size);
  for (let i = 0; i < args.images.length; i++) {
    out.set(preprocessImage(await decodeImage(args.images[i]!), size), i * 3 * size * size);
  }
  return out;
}

async function loadTokens(args: EncodeArgs, model: ClipModel, modelDir: string) {
  const { contextLength, vocabSize } = model.arch.text;
  let ids: Int32Array;
  let source: string;
  if (args.tokens !== undefined) {
    const array = await readNpy(args.tokens);
    if (array.shape.length !== 2 || array.shape[1] !== contextLength) {
      throw new UserError(
        `${args.tokens}: tokens have shape [${array.shape.join(", ")}], expected ` +
          `[N, ${contextLength}] for ${model.arch.name}`,
      );
    }
    ids = npyToInt32(array, args.tokens);
    source = args.tokens;
  } else {
    const tokenizer = await loadTokenizer(modelDir);
    ids = tokenizer.tokenize(args.texts, { contextLength });
    source = tokenizer.source;
  }
  const bad = ids.findIndex((id) => id < 0 || id >= vocabSize);
  if (bad !== -1) {
    throw new UserError(
      `${source}: token id ${ids[bad]} at row ${Math.floor(bad / contextLength)} is outside ` +
        `the model's vocabulary [0, ${vocabSize})`,
    );
  }
  return ids;
}

export async function main(args: string[]): Promise<number> {
  const parsed = parse(args);
  if (parsed === null) {
    console.log(USAGE);
    return 0;
  }
  if (typeof parsed === "string") {
    console.error(`${parsed}\n${USAGE}`);
    return 2;
  }
  const backend = await useBackend(parsed.backend as Parameters<typeof useBackend>[0]);
  const { model, info } = await loadClipModel(parsed.model);
  let encoder: ClipEncoder | null = null;
  try {
    const modelDir = info.file === parsed.model
      ? parsed.model.slice(0, Math.max(0, parsed.model.lastIndexOf("/"))) || "."
      : parsed.model;
    const { imageSize } = model.arch.vision;
    const { contextLength } = model.arch.text;
    const embed = model.arch.embedDim;
    // Read every input before writing anything, so a bad input leaves no partial output.
    const pixels = parsed.pixels !== undefined || parsed.images.length > 0
      ? await loadPixels(parsed, model)
      : null;
    const tokens = parsed.tokens !== undefined || parsed.texts.length > 0
      ? await loadTokens(parsed, model, modelDir)
      : null;
    encoder = await openEncoder(model, { engine: parsed.engine, device: parsed.device });
    const engine = encoder.engine === "tfjs" ? `TF.js on ${backend}` : describeEncoder(encoder);
    console.log(`encoding with ${engine}`);
    await Deno.mkdir(parsed.out, { recursive: true });
    const { batchSize } = parsed;
    const write = async (file: string, data: Float32Array) => {
      const path = `${parsed.out}/${file}`;
      const count = data.length / embed;
      await writeNpy(path, { dtype: "float32", shape: [count, embed], data });
      console.log(`wrote ${path} [${count}, ${embed}] (${info.arch.name}, ${encoder!.engine})`);
    };
    if (pixels !== null) {
      const rowLength = 3 * imageSize * imageSize;
      const features = await inBatches(
        pixels,
        { rowLength, batchSize, embed },
        (batch) => encoder!.encodeImages(batch),
      );
      await write("image_embeds.npy", features);
    }
    if (tokens !== null) {
      const features = await inBatches(tokens, { rowLength: contextLength, batchSize, embed }, (
        batch,
      ) => encoder!.encodeTexts(batch));
      await write("text_embeds.npy", features);
    }
  } finally {
    await encoder?.dispose();
    disposeModel(model);
  }
  return 0;
}
