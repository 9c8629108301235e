/**
 * Dropout keep-masks computed where the tensors live, from a counter-based generator: element i of
 * a mask is a pure function of (key, call, i), so nothing random is drawn on the host or uploaded
 * (a ViT-B/16 training step at batch 32 used to upload ~5.4 GB of uniform noise), and any mask can
 * be computed again from the same numbers: a checkpointed block's backward pass replays its
 * forward's masks by passing the same call number.
 *
 * The generator is Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011; the generator PyTorch and TensorFlow use on GPUs): a 2-word key and a 4-word
 * counter give 4 words through 10 rounds of multiplication and xor; it passes BigCrush for any
 * key. Here the counter is (i / 4, call, 0, 0) and element i takes word i mod 4.
 *
 * Elements are numbered token-major: for a mask of x's shape `[batch, tokens, width]`, element
 * `(b, t, d)` is number `(t · batch + b) · width + d`. Its value does not depend on how many tokens
 * there are, so a forward over a prefix of the tokens (the text encoder cut at the end token)
 * drops exactly what the full context drops at those positions.
 *
 * One kernel, three implementations that agree bit for bit (tested): `philox4x32` below is the
 * reference; the cpu backend runs it, the wasm backend runs it straight into its heap (wasm memory
 * is the host's: no copy, no upload), WebGPU runs the same rounds in WGSL (u32 arithmetic, which
 * WGSL defines to wrap like JavaScript's `Math.imul` and `>>> 0`). Any other backend (tfjs-node)
 * gets the reference's values as an upload.
 */
import * as tf from "@tensorflow/tfjs";

/** Philox4x32's multipliers and key increments (Random123's PHILOX_M4x32_*, PHILOX_W32_*). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;

/**
 * The high 32 bits of the 64-bit product `a · m` (both as unsigned 32-bit words; a in int32 bits,
 * m as its 16-bit halves) from 16-bit partial products, each below 2^32 and exact.
 */
function mulHigh(a: number, mHigh: number, mLow: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const p01 = a0 * mHigh;
  const p10 = a1 * mLow;
  const middle = ((a0 * mLow) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * mHigh + (p01 >>> 16) + (p10 >>> 16) + (middle >>> 16)) | 0;
}

/**
 * Philox4x32-10: replaces the 4 counter words in `block` by the generator's 4 output words under
 * `key` (2 words); words travel as int32 bits (`>>> 0` reads one unsigned). In place so that the
 * mask loop allocates nothing. The reference every backend's kernel matches; checked against
 * Random123's known answers.
 */
export function philox4x32(block: Int32Array, key: ArrayLike<number>): void {
  let c0 = block[0]!, c1 = block[1]!, c2 = block[2]!, c3 = block[3]!;
  let k0 = key[0]! | 0, k1 = key[1]! | 0;
  for (let round = 0; round < ROUNDS; round++) {
    const hi0 = mulHigh(c0, M0 >>> 16, M0 & 0xffff);
    const lo0 = Math.imul(c0, M0);
    const hi1 = mulHigh(c2, M1 >>> 16, M1 & 0xffff);
    const lo1 = Math.imul(c2, M1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 = (k0 + W0) | 0;
    k1 = (k1 + W1) | 0;
  }
  block[0] = c0;
  block[1] = c1;
  block[2] = c2;
  block[3] = c3;
}

/** Which mask: the stream's key and the call's number within it. */
export interface MaskDraw {
  /** Two 32-bit words. */
  key: readonly [number, number];
  /** The call's number (counter word 1), an integer in [0, 2^32). */
  call: number;
  /** The probability of dropping an element, in [0, 1). */
  rate: number;
}

/** `rate` as the kernels take it: keep an element when its word is below `threshold`. */
function keepRule(rate: number): { threshold: number; scale: number } {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  const keep = 1 - rate;
  return {
    // P(word < threshold) = threshold / 2^32: keep, to within 2^-33.
    threshold: Math.min(Math.round(keep * 2 ** 32), 2 ** 32 - 1),
    // Kept entries are scaled by 1 / keep (inverted dropout), rounded to float32 once.
    scale: Math.fround(1 / keep),
  };
}

/** The attributes the kernel receives. */
interface MaskAttrs {
  shape: [number, number, number];
  keyLow: number;
  keyHigh: number;
  call: number;
  threshold: number;
  scale: number;
}

function maskAttrs(shape: readonly [number, number, number], draw: MaskDraw): MaskAttrs {
  const [batch, tokens, width] = shape;
  if (batch * tokens * width >= 2 ** 31) {
    // Elements are numbered in int32 (JavaScript's bit operations, WGSL's i32 indices).
    throw new RangeError(`dropout mask [${shape.join(", ")}]: 2^31 elements or more`);
  }
  if (!Number.isInteger(draw.call) || draw.call < 0 || draw.call >= 2 ** 32) {
    throw new RangeError(`dropout mask: call ${draw.call} is not a 32-bit counter`);
  }
  return {
    shape: [batch, tokens, width],
    keyLow: draw.key[0] >>> 0,
    keyHigh: draw.key[1] >>> 0,
    call: draw.call,
    ...keepRule(draw.rate),
  };
}

/** The reference kernel: fills `out` ([batch, tokens, width] row-major) on the host. */
function fillMask(out: Float32Array, attrs: MaskAttrs): void {
  const [batch, tokens, width] = attrs.shape;
  const { threshold, scale } = attrs;
  const key = [attrs.keyLow, attrs.keyHigh];
  const block = new Int32Array(4);
  let element = 0; // the token-major number of (b, t, d): visited in that order
  for (let t = 0; t < tokens; t++) {
    for (let b = 0; b < batch; b++) {
      let at = (b * tokens + t) * width;
      for (let d = 0; d < width; d++, element++, at++) {
        const word = element & 3;
        if (word === 0) {
          block[0] = element / 4;
          block[1] = attrs.call;
          block[2] = 0;
          block[3] = 0;
          philox4x32(block, key);
        }
        out[at] = block[word]! >>> 0 < threshold ? scale : 0;
      }
    }
  }
}

/** The mask's values as the reference computes them: [batch, tokens, width] row-major. */
export function dropoutMaskValues(
  shape: readonly [number, number, number],
  draw: MaskDraw,
): Float32Array {
  const attrs = maskAttrs(shape, draw);
  const out = new Float32Array(attrs.shape[0] * attrs.shape[1] * attrs.shape[2]);
  fillMask(out, attrs);
  return out;
}

export const DROPOUT_MASK_KERNEL = "RankoneDropoutMask";

/** What the kernels use of a backend (tfjs's KernelBackend, wasm's and WebGPU's additions). */
interface AnyBackend {
  makeTensorInfo(shape: number[], dtype: "float32", values?: Float32Array): tf.TensorInfo;
}
interface WasmBackend {
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}
interface WebgpuBackend {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: "float32",
    uniforms: { type: "int32" | "uint32" | "float32"; data: number[] }[],
  ): tf.TensorInfo;
}

/** Host backends and the fallback: the reference's values, handed to the backend. */
function hostKernel(args: { backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const attrs = args.attrs as unknown as MaskAttrs;
  const [batch, tokens, width] = attrs.shape;
  const values = new Float32Array(batch * tokens * width);
  fillMask(values, attrs);
  return (args.backend as AnyBackend).makeTensorInfo([...attrs.shape], "float32", values);
}

/** wasm: the reference writes straight into the output's place in the wasm heap. */
function wasmKernel(args: { backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const attrs = args.attrs as unknown as MaskAttrs;
  const backend = args.backend as WasmBackend;
  const output = backend.makeOutput([...attrs.shape], "float32");
  fillMask(backend.typedArrayFromHeap(output), attrs);
  return output;
}

/**
 * The WGSL of one thread: four consecutive token-major elements (one Philox call). `mulHigh` uses
 * 16-bit halves (WGSL has no 64-bit product); u32 `*` and `+` wrap mod 2^32.
 */
const WGSL_MASK = `
  fn philoxMulHigh(a : u32, b : u32) -> u32 {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let middle = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (middle >> 16u);
  }

  fn philox4x32(counter : vec4<u32>, key : vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0; r < ${ROUNDS}; r++) {
      let hi0 = philoxMulHigh(${M0}u, c.x);
      let lo0 = ${M0}u * c.x;
      let hi1 = philoxMulHigh(${M1}u, c.z);
      let lo1 = ${M1}u * c.z;
      c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
      k = k + vec2<u32>(${W0}u, ${W1}u);
    }
    return c;
  }

  fn main(group : i32) {
    let elements = uniforms.maskBatch * uniforms.maskTokens * uniforms.maskWidth;
    let first = group * 4;
    if (first >= elements) {
      return;
    }
    var words = philox4x32(
      vec4<u32>(u32(group), uniforms.maskCall, 0u, 0u),
      vec2<u32>(uniforms.maskKeyLow, uniforms.maskKeyHigh));
    let perToken = uniforms.maskBatch * uniforms.maskWidth;
    for (var word = 0; word < 4; word++) {
      let element = first + word;
      if (element < elements) {
        let t = element / perToken;
        let b = (element - t * perToken) / uniforms.maskWidth;
        let d = element - t * perToken - b * uniforms.maskWidth;
        let kept = words[word] < uniforms.maskThreshold;
        setOutputAtIndex((b * uniforms.maskTokens + t) * uniforms.maskWidth + d,
          select(0.0, uniforms.maskScale, kept));
      }
    }
  }
`;

const WORKGROUP = 64;

/** A tfjs-webgpu program (the shape its `runWebGPUProgram` takes). */
class MaskProgram {
  readonly variableNames: string[] = [];
  readonly outputShape: number[];
  readonly shaderKey = "rankoneDropoutMask";
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly uniforms = "maskBatch : i32, maskTokens : i32, maskWidth : i32, maskKeyLow : u32, " +
    "maskKeyHigh : u32, maskCall : u32, maskThreshold : u32, maskScale : f32,";

  constructor(shape: readonly number[]) {
    this.outputShape = [...shape];
    const groups = Math.ceil(shape.reduce((a, b) => a * b, 1) / 4);
    this.dispatch = [Math.ceil(groups / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    // The backend prepends the bindings and `setOutputAtIndex`, and calls main(global index).
    return WGSL_MASK;
  }
}

function webgpuKernel(args: { backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const attrs = args.attrs as unknown as MaskAttrs;
  const [batch, tokens, width] = attrs.shape;
  return (args.backend as WebgpuBackend).runWebGPUProgram(
    new MaskProgram(attrs.shape),
    [],
    "float32",
    [
      { type: "int32", data: [batch] },
      { type: "int32", data: [tokens] },
      { type: "int32", data: [width] },
      { type: "uint32", data: [attrs.keyLow] },
      { type: "uint32", data: [attrs.keyHigh] },
      { type: "uint32", data: [attrs.call] },
      { type: "uint32", data: [attrs.threshold] },
      { type: "float32", data: [attrs.scale] },
    ],
  );
}

/** Registers the kernel for `backendName` (its own implementation, or the host fallback). */
function ensureKernel(backendName: string): void {
  if (tf.getKernel(DROPOUT_MASK_KERNEL, backendName) !== undefined) return;
  const kernelFunc = backendName === "wasm"
    ? wasmKernel
    : backendName === "webgpu"
    ? webgpuKernel
    : hostKernel;
  tf.registerKernel({
    kernelName: DROPOUT_MASK_KERNEL,
    backendName,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

/**
 * The keep-mask of one dropout call on the active backend: `[batch, tokens, width]`, each entry
 * `1 / (1 - rate)` (kept) or 0, from (key, call) as the module comment describes. A constant for
 * the gradient tape (it has no inputs).
 */
export function dropoutMask(
  shape: readonly [number, number, number],
  draw: MaskDraw,
): tf.Tensor3D {
  ensureKernel(tf.getBackend());
  const attrs = maskAttrs(shape, draw);
  return tf.engine().runKernel(
    DROPOUT_MASK_KERNEL,
    {},
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor3D;
}
