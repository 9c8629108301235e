/**
 * Images for CLIP: decoding (JPEG / PNG / WebP / ... through sharp, or raw uint8 arrays), and CLIP's
 * preprocessing done the way torchvision + Pillow do it, so pixels match the reference pipeline:
 *
 * - eval: `Resize(size, BICUBIC)` (shortest side to `size`), `CenterCrop(size)`, `ToTensor`,
 *   `Normalize(CLIP_MEAN, CLIP_STD)`;
 * - train: `RandomResizedCrop(size, scale, ratio, BICUBIC)`.
 *
 * The bicubic resize is a port of Pillow's `libImaging/Resample.c` (a = -0.5, the kernel widened
 * by the scale factor when downscaling, i.e. antialiased; horizontal pass, rounding to uint8, then
 * vertical pass, in Pillow's 22-bit fixed point), so it gives Pillow's bytes, not an
 * approximation. Measured against Pillow 9.4 + torchvision 0.14 (CLIP's `_transform`, 224): on
 * a 640x457 JPEG (q85, downscale), a 301x203 JPEG (q75 4:2:0, upscale), an RGBA PNG and a grey PNG
 * (all 640x457), decoded pixels and normalised outputs are identical (mean and max abs difference
 * 0.0); image_test.ts pins Pillow's values for constructed images.
 *
 * Decoding is sharp's (libvips + libjpeg-turbo / libspng). Like `PIL.Image.open(f).convert("RGB")`
 * it ignores embedded ICC profiles and EXIF orientation and drops alpha without compositing;
 * grey images are replicated to three channels (torchvision's dataset loaders convert to RGB on
 * load, so the resize always sees RGB). Not checked against Pillow: 16-bit PNGs (libvips scales
 * them to 8 bits) and CMYK JPEGs (converted by libvips).
 */
import sharp from "sharp";
import { UserError } from "../errors.ts";
import type { SeededRng } from "./rng.ts";

/** An 8-bit RGB image, row-major HWC: `data[(y * width + x) * 3 + channel]`. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // [height, width, 3]
}

/** CLIP's normalisation constants (OpenAI `clip/clip.py` `_transform`), RGB order. */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** A crop window in pixels, as torchvision writes it: top row `i`, left column `j`. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Decodes an image file (path) or encoded bytes to RGB. `name` labels bytes in error messages.
 * An undecodable file is a UserError naming it.
 */
export async function decodeImage(
  source: string | Uint8Array,
  options: { name?: string } = {},
): Promise<RgbImage> {
  const name = typeof source === "string" ? source : options.name ?? "<image bytes>";
  try {
    const { data, info } = await sharp(source, { ignoreIcc: true, failOn: "error" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Error(`decoded to ${info.channels} channels, expected 3`);
    }
    // Copy out of the Node Buffer's pool into a plain, exactly sized Uint8Array.
    const pixels = new Uint8Array(data.byteLength);
    pixels.set(data);
    return { width: info.width, height: info.height, data: pixels };
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    throw new UserError(`Cannot decode image ${name}: ${reason}`, { cause: error });
  }
}

/**
 * An RgbImage from raw uint8 pixels, HWC with 1 (grey, replicated), 3 (RGB) or 4 (RGBA, alpha
 * dropped) channels, as MNIST / CIFAR arrays come.
 */
export function rgbFromPixels(
  pixels: Uint8Array,
  size: { width: number; height: number; channels: 1 | 3 | 4 },
): RgbImage {
  const { width, height, channels } = size;
  const count = width * height;
  if (!Number.isInteger(count) || count <= 0 || pixels.length !== count * channels) {
    throw new UserError(
      `Cannot read raw image: ${pixels.length} bytes for ${height}x${width}x${channels}`,
    );
  }
  if (channels === 3) return { width, height, data: pixels };
  const data = new Uint8Array(count * 3);
  for (let p = 0; p < count; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = pixels[p * channels + (channels === 1 ? 0 : c)]!;
  }
  return { width, height, data };
}

// ---- Pillow's resampling (libImaging/Resample.c), bicubic only ------------------------------

const PRECISION_BITS = 32 - 8 - 2;
const BICUBIC_SUPPORT = 2.0;

function bicubicFilter(distance: number): number {
  const a = -0.5;
  const x = Math.abs(distance);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

interface Coefficients {
  kernelSize: number;
  bounds: Int32Array; // [outSize, 2]: first input index, tap count
  weights: Int32Array; // [outSize, kernelSize], fixed point with PRECISION_BITS
}

/** `precompute_coeffs` + `normalize_coeffs_8bpc` for input span [in0, in1) -> outSize. */
function precomputeCoefficients(
  inSize: number,
  span: [number, number],
  outSize: number,
): Coefficients {
  const [in0, in1] = span;
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = BICUBIC_SUPPORT * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * kernelSize);
  const taps = new Float64Array(kernelSize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const inverse = 1.0 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicFilter((x + xmin - center + 0.5) * inverse);
      taps[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0.0 ? taps[x]! / total : taps[x]!;
      // C's (int) cast truncates toward zero after adding +-0.5: round half away from zero.
      weights[xx * kernelSize + x] = Math.trunc(
        w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS),
      );
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { kernelSize, bounds, weights };
}

function clip8(value: number): number {
  if (value >= 1 << PRECISION_BITS << 8) return 255;
  if (value <= 0) return 0;
  return value >> PRECISION_BITS;
}

/**
 * Pillow's `Image.resize((width, height), Image.BICUBIC)` on an RGB image, byte for byte:
 * antialiased bicubic (a = -0.5), horizontal pass then vertical pass with uint8 rounding between.
 */
export function resizeBicubic(
  image: RgbImage,
  width: number,
  options: { height: number },
): RgbImage {
  const { height } = options;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`resizeBicubic: bad output size ${width}x${height}`);
  }
  const horizontal = precomputeCoefficients(image.width, [0, image.width], width);
  const vertical = precomputeCoefficients(image.height, [0, image.height], height);
  const needHorizontal = width !== image.width;
  const needVertical = height !== image.height;
  const half = 1 << (PRECISION_BITS - 1);

  let source = image;
  // Vertical taps read rows [firstRow, lastRow) only, so the horizontal pass skips the rest.
  const firstRow = needVertical ? vertical.bounds[0]! : 0;
  const lastRow = needVertical
    ? vertical.bounds[(height - 1) * 2]! + vertical.bounds[(height - 1) * 2 + 1]!
    : image.height;
  if (needHorizontal) {
    const rows = lastRow - firstRow;
    const out = new Uint8Array(rows * width * 3); // [rows, width, 3]
    const { kernelSize, bounds, weights } = horizontal;
    for (let y = 0; y < rows; y++) {
      const rowStart = (y + firstRow) * image.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2]!;
        const taps = bounds[xx * 2 + 1]!;
        const k = xx * kernelSize;
        let r = half, g = half, b = half;
        for (let x = 0; x < taps; x++) {
          const w = weights[k + x]!;
          const p = rowStart + (x + xmin) * 3;
          r += image.data[p]! * w;
          g += image.data[p + 1]! * w;
          b += image.data[p + 2]! * w;
        }
        const o = (y * width + xx) * 3;
        out[o] = clip8(r);
        out[o + 1] = clip8(g);
        out[o + 2] = clip8(b);
      }
    }
    source = { width, height: rows, data: out };
  } else if (needVertical) {
    source = {
      width: image.width,
      height: lastRow - firstRow,
      data: image.data.subarray(firstRow * image.width * 3, lastRow * image.width * 3),
    };
  }
  if (!needVertical) return needHorizontal ? source : { ...image, data: image.data.slice() };

  const out = new Uint8Array(height * width * 3); // [height, width, 3]
  const { kernelSize, bounds, weights } = vertical;
  const stride = width * 3;
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[yy * 2]! - firstRow;
    const taps = bounds[yy * 2 + 1]!;
    const k = yy * kernelSize;
    for (let xx = 0; xx < width; xx++) {
      let r = half, g = half, b = half;
      for (let y = 0; y < taps; y++) {
        const w = weights[k + y]!;
        const p = (y + ymin) * stride + xx * 3;
        r += source.data[p]! * w;
        g += source.data[p + 1]! * w;
        b += source.data[p + 2]! * w;
      }
      const o = yy * stride + xx * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height, data: out };
}

// ---- torchvision transforms -------------------------------------------------------------------

/** Python's `round()`: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** A copy of the pixels inside `box` (which must lie inside the image). */
export function crop(image: RgbImage, box: CropBox): RgbImage {
  const { top, left, height, width } = box;
  if (
    top < 0 || left < 0 || height <= 0 || width <= 0 || top + height > image.height ||
    left + width > image.width
  ) {
    throw new RangeError(
      `crop: box ${JSON.stringify(box)} is outside the ${image.width}x${image.height} image`,
    );
  }
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** `transforms.Resize(size)`: the shorter side becomes `size`, the longer `int(size*long/short)`. */
export function resizeShortestSide(image: RgbImage, size: number): RgbImage {
  const { width, height } = image;
  if (width <= height) {
    return resizeBicubic(image, size, { height: Math.trunc(size * height / width) });
  }
  return resizeBicubic(image, Math.trunc(size * width / height), { height: size });
}

/** `transforms.CenterCrop(size)` on an image at least `size` on each side. */
export function centerCrop(image: RgbImage, size: number): RgbImage {
  const top = roundHalfEven((image.height - size) / 2);
  const left = roundHalfEven((image.width - size) / 2);
  return crop(image, { top, left, height: size, width: size });
}

/**
 * CLIP's eval geometry without normalisation: shortest side to `size` (bicubic), centre crop.
 * Returns uint8 HWC [size, size, 3], compact enough to cache prepared datasets.
 */
export function preprocessToUint8(image: RgbImage, size: number): Uint8Array {
  return centerCrop(resizeShortestSide(image, size), size).data;
}

/**
 * `ToTensor()` + `Normalize(mean, std)` on uint8 HWC pixels [height, width, 3] -> Float32Array CHW
 * [3, height, width], in float32 arithmetic in torchvision's order ((x / 255 - mean) / std).
 * `width` defaults to `height` (square crops).
 */
export function normalizeUint8(
  pixels: Uint8Array,
  height: number,
  options: { width?: number; mean?: readonly number[]; std?: readonly number[] } = {},
): Float32Array {
  const width = options.width ?? height;
  const mean = options.mean ?? CLIP_MEAN;
  const std = options.std ?? CLIP_STD;
  const plane = width * height;
  if (pixels.length !== plane * 3) {
    throw new RangeError(`normalizeUint8: ${pixels.length} bytes for ${height}x${width}x3`);
  }
  const out = new Float32Array(plane * 3); // [3, height, width]
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    for (let p = 0; p < plane; p++) {
      const x = Math.fround(pixels[p * 3 + c]! / 255);
      out[c * plane + p] = Math.fround(Math.fround(x - m) / s);
    }
  }
  return out;
}

/** CLIP's eval preprocessing: Float32Array CHW [3, size, size], normalised. */
export function preprocessImage(image: RgbImage, size: number): Float32Array {
  return normalizeUint8(preprocessToUint8(image, size), size);
}

export interface RandomResizedCropOptions {
  /** Fraction of the image area the crop covers, [low, high]. torchvision's default: [0.08, 1]. */
  scale?: readonly [number, number];
  /** Aspect ratio (width / height) range of the crop, sampled log-uniformly. */
  ratio?: readonly [number, number];
  rng: SeededRng;
}

/**
 * `RandomResizedCrop.get_params`: up to 10 draws of (area fraction, log aspect ratio), the first
 * that fits the image wins, with a uniformly placed window; otherwise a centred crop clamped to
 * the ratio range.
 */
export function randomResizedCropBox(
  imageSize: { width: number; height: number },
  options: RandomResizedCropOptions,
): CropBox {
  const { width, height } = imageSize;
  const [scaleLow, scaleHigh] = options.scale ?? [0.08, 1.0];
  const [ratioLow, ratioHigh] = options.ratio ?? [3 / 4, 4 / 3];
  const area = width * height;
  const logLow = Math.log(ratioLow);
  const logHigh = Math.log(ratioHigh);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * options.rng.uniform(scaleLow, scaleHigh);
    const aspect = Math.exp(options.rng.uniform(logLow, logHigh));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = options.rng.nextInt(height - h + 1);
      const left = options.rng.nextInt(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(ratioLow, ratioHigh)) {
    h = roundHalfEven(w / Math.min(ratioLow, ratioHigh));
  } else if (inRatio > Math.max(ratioLow, ratioHigh)) {
    w = roundHalfEven(h * Math.max(ratioLow, ratioHigh));
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * `RandomResizedCrop(size, scale, ratio, interpolation=BICUBIC)`: a random window (see
 * randomResizedCropBox), cropped then resized to `size x size`. Returns uint8 HWC.
 */
export function randomResizedCrop(
  image: RgbImage,
  size: number,
  options: RandomResizedCropOptions,
): RgbImage {
  const box = randomResizedCropBox(image, options);
  return resizeBicubic(crop(image, box), size, { height: size });
}
