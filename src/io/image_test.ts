import assert from "node:assert/strict";
import sharp from "sharp";
import { UserError } from "../errors.ts";
import {
  centerCrop,
  crop,
  decodeImage,
  normalizeUint8,
  preprocessImage,
  preprocessToUint8,
  randomResizedCrop,
  randomResizedCropBox,
  resizeBicubic,
  rgbFromPixels,
  type RgbImage,
} from "./image.ts";
import { SeededRng } from "./rng.ts";

/**
 * The test pattern, also built in Python for the reference values below:
 * `(x*7 + y*13 + c*50 + ((x*y*31 + c*17) % 23) * 5) % 256` — gradients plus hard edges, so
 * bicubic overshoot and clipping are exercised.
 */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 3 + c] =
          (x * 7 + y * 13 + c * 50 + ((x * y * 31 + c * 17) % 23) * 5) % 256;
      }
    }
  }
  return { width, height, data };
}

/** sum(v) and sum(v * (index % 1009)): two checksums computed the same way in numpy. */
function checksums(values: Uint8Array): [number, number] {
  let sum = 0;
  let weighted = 0;
  values.forEach((v, i) => {
    sum += v;
    weighted += v * (i % 1009);
  });
  return [sum, weighted];
}

// Pillow 9.4 + torchvision 0.14: Resize(8, BICUBIC) + CenterCrop(8) of pattern(29, 19), HWC.
const PIL_29x19_TO_8 = [
  79,
  169,
  176,
  101,
  184,
  177,
  121,
  201,
  180,
  132,
  201,
  183,
  157,
  172,
  109,
  174,
  121,
  54,
  132,
  72,
  45,
  187,
  75,
  65,
  130,
  182,
  141,
  147,
  146,
  85,
  181,
  198,
  96,
  185,
  173,
  132,
  183,
  159,
  76,
  217,
  77,
  67,
  86,
  73,
  76,
  139,
  79,
  92,
  171,
  171,
  150,
  192,
  183,
  124,
  163,
  114,
  60,
  185,
  102,
  53,
  162,
  125,
  90,
  176,
  81,
  89,
  86,
  75,
  91,
  151,
  78,
  121,
  203,
  132,
  78,
  167,
  144,
  89,
  144,
  79,
  70,
  129,
  78,
  89,
  79,
  71,
  92,
  106,
  63,
  139,
  93,
  83,
  131,
  82,
  130,
  157,
  130,
  111,
  73,
  88,
  83,
  87,
  169,
  72,
  119,
  102,
  75,
  105,
  93,
  102,
  136,
  45,
  122,
  155,
  66,
  112,
  161,
  63,
  156,
  192,
  122,
  69,
  100,
  103,
  74,
  117,
  74,
  87,
  122,
  75,
  83,
  166,
  71,
  112,
  172,
  99,
  140,
  188,
  112,
  131,
  144,
  103,
  186,
  187,
  102,
  76,
  148,
  96,
  110,
  132,
  61,
  125,
  164,
  84,
  125,
  192,
  89,
  148,
  159,
  132,
  173,
  189,
  131,
  165,
  109,
  133,
  191,
  167,
  61,
  89,
  163,
  64,
  123,
  193,
  83,
  170,
  197,
  133,
  169,
  176,
  144,
  181,
  156,
  147,
  189,
  125,
  158,
  139,
  60,
  157,
  97,
  38,
];

Deno.test("preprocessToUint8() gives Pillow's exact bytes for a 29x19 -> 8 downscale", () => {
  assert.deepEqual(Array.from(preprocessToUint8(pattern(29, 19), 8)), PIL_29x19_TO_8);
});

Deno.test("preprocessToUint8() matches Pillow's checksums on an upscale and a larger downscale", () => {
  assert.deepEqual(checksums(preprocessToUint8(pattern(6, 9), 10)), [45318, 6961819]);
  assert.deepEqual(checksums(preprocessToUint8(pattern(97, 61), 32)), [391037, 194376536]);
});

Deno.test("resizeBicubic() and crop() match Pillow's resize((13, 31)) and crop+resize", () => {
  const image = pattern(29, 19);
  const stretched = resizeBicubic(image, 13, { height: 31 });
  assert.equal(stretched.width, 13);
  assert.equal(stretched.height, 31);
  assert.deepEqual(checksums(stretched.data), [152384, 65497910]);
  const window = crop(image, { top: 2, left: 3, height: 15, width: 20 });
  assert.deepEqual(checksums(resizeBicubic(window, 7, { height: 7 }).data), [17750, 1268288]);
  assert.deepEqual(resizeBicubic(image, 29, { height: 19 }).data, image.data); // identity
});

Deno.test("preprocessImage() equals torchvision's ToTensor + Normalize floats (CHW)", () => {
  const small = preprocessImage(pattern(29, 19), 8);
  assert.equal(small.length, 3 * 8 * 8);
  assert.equal(small[0], Math.fround(-0.6389868259429932));
  assert.equal(small[small.length - 1], Math.fround(-0.9398571848869324));
  const sum = small.reduce((total, v) => total + v, 0);
  assert.ok(Math.abs(sum - 27.214112) < 1e-4, `sum ${sum}`);
  const large = preprocessImage(pattern(97, 61), 32);
  assert.equal(large[0], Math.fround(0.6456747055053711));
  assert.equal(large[large.length - 1], Math.fround(1.0936121940612793));
});

Deno.test("a constant (255, 128, 0) image normalises to ((v/255 - mean) / std) per channel", () => {
  const pixels = new Uint8Array(5 * 7 * 3);
  for (let p = 0; p < 35; p++) pixels.set([255, 128, 0], p * 3);
  const image = rgbFromPixels(pixels, { width: 7, height: 5, channels: 3 });
  const chw = preprocessImage(image, 4); // [3, 4, 4]
  const expected = [1.9303361177444458, 0.16889731585979462, -1.480219841003418]; // torchvision
  for (let c = 0; c < 3; c++) {
    assert.ok(chw.subarray(c * 16, (c + 1) * 16).every((v) => v === Math.fround(expected[c]!)));
  }
  const uint8 = preprocessToUint8(image, 4);
  assert.deepEqual(Array.from(normalizeUint8(uint8, 4)), Array.from(chw));
});

Deno.test("centerCrop() rounds the offset half-to-even like torchvision", () => {
  // 5 - 2 = 3 rows to drop: round(1.5) = 2 rows above; 7 - 2 = 5 columns: round(2.5) = 2.
  const image = pattern(7, 5);
  const cropped = centerCrop(image, 2);
  assert.deepEqual(cropped.data, crop(image, { top: 2, left: 2, height: 2, width: 2 }).data);
});

Deno.test("rgbFromPixels() replicates grey and drops alpha; wrong sizes are a UserError", () => {
  const grey = rgbFromPixels(new Uint8Array([10, 20]), { width: 2, height: 1, channels: 1 });
  assert.deepEqual(Array.from(grey.data), [10, 10, 10, 20, 20, 20]);
  const rgba = rgbFromPixels(new Uint8Array([1, 2, 3, 4]), { width: 1, height: 1, channels: 4 });
  assert.deepEqual(Array.from(rgba.data), [1, 2, 3]);
  assert.throws(
    () => rgbFromPixels(new Uint8Array(5), { width: 2, height: 1, channels: 3 }),
    UserError,
  );
});

Deno.test("decodeImage() reads PNG exactly and JPEG closely, with sizes, grey and alpha", async () => {
  const temp = await Deno.makeTempDir();
  try {
    const image = pattern(23, 17);
    const raw = { raw: { width: 23, height: 17, channels: 3 as const } };
    await sharp(image.data, raw).png().toFile(`${temp}/a.png`);
    // JPEG is lossy: a smooth gradient (x * 10, y * 15, 128) keeps the error small.
    const smooth = new Uint8Array(23 * 17 * 3);
    for (let p = 0; p < 23 * 17; p++) {
      smooth.set([(p % 23) * 10, Math.floor(p / 23) * 15, 128], p * 3);
    }
    await sharp(smooth, raw).jpeg({ quality: 95 }).toFile(`${temp}/a.jpg`);
    await sharp(image.data, raw).ensureAlpha(0.5).png().toFile(`${temp}/rgba.png`);
    await sharp(image.data, raw).extractChannel(1).png().toFile(`${temp}/grey.png`);

    const png = await decodeImage(`${temp}/a.png`);
    assert.equal(png.width, 23);
    assert.equal(png.height, 17);
    assert.deepEqual(png.data, image.data);
    const rgba = await decodeImage(`${temp}/rgba.png`);
    assert.deepEqual(rgba.data, image.data); // alpha dropped, colours untouched
    const grey = await decodeImage(`${temp}/grey.png`);
    assert.ok(grey.data.every((v, i) => v === image.data[i - (i % 3) + 1]));

    const jpeg = await decodeImage(await Deno.readFile(`${temp}/a.jpg`), { name: "a.jpg" });
    assert.equal(jpeg.width, 23);
    let error = 0;
    jpeg.data.forEach((v, i) => (error += Math.abs(v - smooth[i]!)));
    assert.ok(error / jpeg.data.length < 2, `mean abs JPEG error ${error / jpeg.data.length}`);
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("decodeImage() on a file that is not an image is a UserError naming the file", async () => {
  const temp = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${temp}/broken.jpg`, "this is not a jpeg");
    await assert.rejects(() => decodeImage(`${temp}/broken.jpg`), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, new RegExp(`^Cannot decode image ${temp}/broken.jpg: `));
      return true;
    });
    await assert.rejects(() => decodeImage(`${temp}/missing.png`), UserError);
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("randomResizedCropBox() keeps area in scale, ratio in range, window inside", () => {
  const rng = new SeededRng(3);
  for (let i = 0; i < 200; i++) {
    const box = randomResizedCropBox({ width: 120, height: 80 }, {
      scale: [0.9, 1.0],
      ratio: [3 / 4, 4 / 3],
      rng,
    });
    assert.ok(box.top >= 0 && box.left >= 0);
    assert.ok(box.top + box.height <= 80 && box.left + box.width <= 120);
    const area = (box.width * box.height) / (120 * 80);
    // Rounding w and h moves the area by at most about (w + h) / 2 pixels.
    assert.ok(area > 0.88 && area <= 1.0, `area ${area}`);
  }
});

Deno.test("randomResizedCropBox() falls back to a centred crop clamped to the ratio", () => {
  // A 100x10 strip cannot hold 90% of its area at ratio <= 4/3: fallback h = 10, w = 13.
  const box = randomResizedCropBox({ width: 100, height: 10 }, {
    scale: [0.9, 1.0],
    ratio: [3 / 4, 4 / 3],
    rng: new SeededRng(0),
  });
  assert.deepEqual(box, { top: 0, left: 43, height: 10, width: 13 });
});

Deno.test("randomResizedCrop() is deterministic for a seed and varies across seeds", () => {
  const image = pattern(40, 30);
  const options = (seed: number) => ({
    scale: [0.5, 1.0] as const,
    ratio: [3 / 4, 4 / 3] as const,
    rng: new SeededRng(seed),
  });
  const first = randomResizedCrop(image, 16, options(11));
  const again = randomResizedCrop(image, 16, options(11));
  const other = randomResizedCrop(image, 16, options(12));
  assert.equal(first.width, 16);
  assert.equal(first.height, 16);
  assert.deepEqual(first.data, again.data);
  assert.notDeepEqual(first.data, other.data);
  // The same window through crop + resize gives the same bytes.
  const box = randomResizedCropBox(image, options(11));
  assert.deepEqual(resizeBicubic(crop(image, box), 16, { height: 16 }).data, first.data);
});
