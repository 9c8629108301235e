/**
 * The rank-1 expert pool LoRA of one task: per adapted linear a rank-r LoRA whose r rank-1
 * components are experts, a router that picks k of them per batch, and activation counts.
 *
 *   y = x·W0 + b + (alpha / r) · ((dropout(x) · A_S) · B_S)
 *
 * Layout: the release stores lora_A [r, d_in], lora_B [d_out, r] and the router weight [r, d_in]
 * (PyTorch's out-major Linear). Here every matrix is input-major so each product is a plain
 * matmul without transpose flags (slow on tfjs-wasm):
 *   `down` [d_in, r] = lora_Aᵀ,  `up` [r, d_out] = lora_Bᵀ,  `routerWeight` [d_in, r] = router.weightᵀ.
 * Expert j is column j of `down` and row j of `up`. The selection S is applied as a 0/1 mask on
 * the rank dimension of the [tokens, r] intermediate; B·A is never formed.
 *
 * Routing runs as tensor ops on the device (`routing.ts`): a training step makes no synchronous
 * read (WebGPU has none, and on a GPU each would stall the queue once per module). Activation
 * counts accumulate in a tensor per module and are read once, when the task's delta is extracted.
 */
import * as tf from "@tensorflow/tfjs";
import type { ClipArch } from "../clip/arch.ts";
import { dropoutMask, type MaskDraw } from "../clip/dropout_mask.ts";
import {
  type LinearApply,
  type LinearLayer,
  plainLinear,
  type ReplayableLinearApply,
} from "../clip/linear.ts";
import type { Float32Tensor } from "../io/safetensors.ts";
import type { SeededRng } from "../io/rng.ts";
import { UserError } from "../errors.ts";
import { hasRouter, type MethodConfig } from "./config.ts";
import { type AdaptedModule, adapterModules } from "./modules.ts";
import { mostVotedMask, offTape, voteCounts } from "./routing.ts";

export interface ExpertAdapter {
  readonly module: AdaptedModule;
  /** [d_in, r] = release lora_Aᵀ; Kaiming-uniform(a = sqrt 5) init: U(±1/sqrt(d_in)). */
  readonly down: tf.Variable<tf.Rank.R2>;
  /** [r, d_out] = release lora_Bᵀ; zeros at init. */
  readonly up: tf.Variable<tf.Rank.R2>;
  /** [d_in, r] = release lora_router.weightᵀ (nn.Linear default init), or null without a router. */
  readonly routerWeight: tf.Variable<tf.Rank.R2> | null;
  /** [r] */
  readonly routerBias: tf.Variable<tf.Rank.R1> | null;
  /**
   * [r] activation counts: votes received over the task so far, on the device (float32 holds
   * integers exactly up to 2^24 votes per expert).
   */
  readonly counts: tf.Variable<tf.Rank.R1>;
}

export interface AdapterPool {
  readonly config: MethodConfig;
  /** alpha / r */
  readonly scale: number;
  /** By module name, in `adapterModules` order. */
  readonly adapters: Map<string, ExpertAdapter>;
}

/** A variable owning `initial`'s values (the temporary tensor is released). */
function variableFrom<R extends tf.Rank>(
  initial: tf.Tensor<R>,
  options: { trainable: boolean; name: string },
): tf.Variable<R> {
  const variable = tf.variable(initial, options.trainable, options.name);
  initial.dispose();
  return variable;
}

/** Uniform values in [-bound, bound) from the seeded generator: [rows, cols] row-major. */
function uniformMatrix(rng: SeededRng, rows: number, cols: number, bound: number): Float32Array {
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-bound, bound);
  return values;
}

/**
 * Draws in the release's [out, in] order, then transposes to [in, out], so a given seed gives
 * the same matrix as drawing the release's layout element by element.
 */
function uniformInputMajor(
  rng: SeededRng,
  dIn: number,
  options: { dOut: number; bound: number },
): Float32Array {
  const outMajor = uniformMatrix(rng, options.dOut, dIn, options.bound);
  const inMajor = new Float32Array(outMajor.length);
  for (let o = 0; o < options.dOut; o++) {
    for (let i = 0; i < dIn; i++) inMajor[i * options.dOut + o] = outMajor[o * dIn + i]!;
  }
  return inMajor;
}

/**
 * Starting values of one module's adapter in the release's (PyTorch) layouts, as its checkpoints
 * and `../shared/fixtures/train-ref/init/` hold them. The router's pair is present exactly when
 * the method has a router.
 */
export interface AdapterValues {
  /** `lora_A` [r, d_in] */
  loraA: Float32Tensor;
  /** `lora_B` [d_out, r] */
  loraB: Float32Tensor;
  /** `lora_router.weight` [r, d_in] */
  routerWeight?: Float32Tensor;
  /** `lora_router.bias` [r] */
  routerBias?: Float32Tensor;
}

/** The file suffix (and name in messages) of each `AdapterValues` field. */
export const ADAPTER_VALUE_NAMES = {
  loraA: "lora_A",
  loraB: "lora_B",
  routerWeight: "router_w",
  routerBias: "router_b",
} as const satisfies Record<keyof AdapterValues, string>;

/** A warm start: starting values for every adapted module, and where they came from. */
export interface InitialAdapters {
  /** Named in errors (e.g. the folder `readAdapterFolder` read). */
  source: string;
  /** By module name (`text.blocks.3.attn.q`, ...). */
  modules: ReadonlyMap<string, AdapterValues>;
}

/** One module's starting tensors, input-major. */
interface StartingTensors {
  down: tf.Tensor2D; // [d_in, r]
  up: tf.Tensor2D; // [r, d_out]
  routerWeight: tf.Tensor2D | null; // [d_in, r]
  routerBias: tf.Tensor1D | null; // [r]
}

/**
 * Fresh values: A Kaiming-uniform with a = sqrt 5, whose bound gain·sqrt(3 / fan_in) is
 * 1/sqrt(fan_in); B zeros; the router nn.Linear's default init (the same bound for weight and bias).
 */
function drawnStart(rng: SeededRng, module: AdaptedModule, config: MethodConfig): StartingTensors {
  const r = config.rank;
  const { dIn } = module;
  const bound = 1 / Math.sqrt(dIn);
  const down = tf.tensor2d(uniformInputMajor(rng, dIn, { dOut: r, bound }), [dIn, r]);
  const up = tf.zeros([r, module.dOut]) as tf.Tensor2D;
  if (!hasRouter(config)) return { down, up, routerWeight: null, routerBias: null };
  const routerWeight = tf.tensor2d(uniformInputMajor(rng, dIn, { dOut: r, bound }), [dIn, r]);
  const routerBias = tf.tensor1d(uniformMatrix(rng, 1, r, bound));
  return { down, up, routerWeight, routerBias };
}

/** Given values (release layouts, checked by `checkInitialAdapters`), transposed on the device. */
function givenStart(values: AdapterValues, module: AdaptedModule, r: number): StartingTensors {
  const { dIn, dOut } = module;
  const inputMajor = (tensor: Float32Tensor, shape: [number, number]) =>
    tf.tidy(() => tf.transpose(tf.tensor2d(tensor.data, shape)) as tf.Tensor2D);
  const { routerWeight, routerBias } = values;
  return {
    down: inputMajor(values.loraA, [r, dIn]),
    up: inputMajor(values.loraB, [dOut, r]),
    routerWeight: routerWeight === undefined ? null : inputMajor(routerWeight, [r, dIn]),
    routerBias: routerBias === undefined ? null : tf.tensor1d(routerBias.data),
  };
}

/**
 * Every adapted module has values of the right shapes, the router's exactly when the method has
 * one, and no values name a module the method does not adapt: a UserError naming the tensor.
 */
function checkInitialAdapters(
  initial: InitialAdapters,
  modules: readonly AdaptedModule[],
  config: MethodConfig,
): void {
  const { source } = initial;
  const r = config.rank;
  const adapted = new Set(modules.map((module) => module.name));
  for (const name of initial.modules.keys()) {
    if (!adapted.has(name)) {
      throw new UserError(
        `${source}: values for "${name}", which method ${config.name} does not adapt on this ` +
          `model (${modules.length} adapted modules, from "${modules[0]?.name}")`,
      );
    }
  }
  for (const module of modules) {
    const values = initial.modules.get(module.name);
    if (values === undefined) {
      throw new UserError(
        `${source}: no starting values for "${module.name}" (expected ` +
          `${module.name}.${ADAPTER_VALUE_NAMES.loraA} and .${ADAPTER_VALUE_NAMES.loraB})`,
      );
    }
    const expected: Record<keyof AdapterValues, number[] | null> = {
      loraA: [r, module.dIn],
      loraB: [module.dOut, r],
      routerWeight: hasRouter(config) ? [r, module.dIn] : null,
      routerBias: hasRouter(config) ? [r] : null,
    };
    for (const field of Object.keys(expected) as (keyof AdapterValues)[]) {
      const tensor = values[field];
      const shape = expected[field];
      const what = `${source}: ${module.name}.${ADAPTER_VALUE_NAMES[field]}`;
      if (shape === null && tensor !== undefined) {
        throw new UserError(`${what} is given, but method ${config.name} has no router`);
      }
      if (shape !== null && tensor === undefined) {
        throw new UserError(`${what} is missing (method ${config.name} has a router)`);
      }
      if (shape !== null && tensor !== undefined && tensor.shape.join() !== shape.join()) {
        throw new UserError(
          `${what} is [${tensor.shape.join(", ")}], expected [${shape.join(", ")}] ` +
            `(rank ${r}, [d_out, d_in] = [${module.dOut}, ${module.dIn}])`,
        );
      }
    }
  }
}

/**
 * The pool for one task, zero counts. Fresh (new A, zero B, new router per module, drawn from
 * `rng`), or warm-started from `initial` (every module's values given; nothing is drawn).
 */
export function createAdapterPool(
  arch: ClipArch,
  config: MethodConfig,
  options: { rng: SeededRng; initial?: InitialAdapters },
): AdapterPool {
  const { rng, initial } = options;
  const r = config.rank;
  const modules = adapterModules(arch, config);
  if (initial !== undefined) checkInitialAdapters(initial, modules, config);
  const trainableRouter = config.router !== "frozen";
  const adapters = new Map<string, ExpertAdapter>();
  for (const module of modules) {
    const values = initial?.modules.get(module.name);
    const start = values === undefined
      ? drawnStart(rng, module, config)
      : givenStart(values, module, r);
    const routerWeight = start.routerWeight === null ? null : variableFrom(start.routerWeight, {
      trainable: trainableRouter,
      name: `${module.name}.router.weight`,
    });
    const routerBias = start.routerBias === null ? null : variableFrom(start.routerBias, {
      trainable: trainableRouter,
      name: `${module.name}.router.bias`,
    });
    adapters.set(module.name, {
      module,
      down: variableFrom(start.down, { trainable: true, name: `${module.name}.lora_A` }),
      up: variableFrom(start.up, { trainable: true, name: `${module.name}.lora_B` }),
      routerWeight,
      routerBias,
      counts: variableFrom(tf.zeros([r]) as tf.Tensor1D, {
        trainable: false,
        name: `${module.name}.counts`,
      }),
    });
  }
  return { config, scale: config.alpha / config.rank, adapters };
}

/** The variables the optimiser updates: A, B and (when it learns) the router of every module. */
export function trainableVariables(pool: AdapterPool): tf.Variable[] {
  const variables: tf.Variable[] = [];
  for (const adapter of pool.adapters.values()) {
    variables.push(adapter.down, adapter.up);
    if (pool.config.router !== "frozen" && adapter.routerWeight && adapter.routerBias) {
      variables.push(adapter.routerWeight, adapter.routerBias);
    }
  }
  return variables;
}

export function disposeAdapterPool(pool: AdapterPool): void {
  for (const adapter of pool.adapters.values()) {
    adapter.down.dispose();
    adapter.up.dispose();
    adapter.routerWeight?.dispose();
    adapter.routerBias?.dispose();
    adapter.counts.dispose();
  }
}

/** Zeroes every module's activation counts (e.g. after a warm-up pass that should not count). */
export function resetCounts(pool: AdapterPool): void {
  for (const adapter of pool.adapters.values()) {
    tf.tidy(() => adapter.counts.assign(tf.zerosLike(adapter.counts)));
  }
}

/**
 * Inverted dropout (kept entries scaled by 1 / (1 - rate)) with the mask computed on the device
 * from (key, call) (`clip/dropout_mask.ts`), numbered token-major: a forward over a prefix of the
 * tokens (the text encoder cut at the end token, `textTokens`) drops exactly what the full context
 * drops at those positions, and trains the same.
 */
export function tokenMajorDropout(x: tf.Tensor3D, draw: MaskDraw): tf.Tensor3D {
  return tf.mul(x, dropoutMask(x.shape, draw));
}

export interface PoolForwardOptions {
  /** Training: dropout on the LoRA branch, counts accumulate. Evaluation: neither. */
  training: boolean;
  /** Draws the dropout masks' key, once, at the first dropout (needed when dropout > 0). */
  rng?: SeededRng;
  /** Count votes into the adapters' activation counts (default: when training). */
  countActivations?: boolean;
}

/**
 * The `LinearApply` hook that runs `pool` on the model's linears; layers without an adapter are
 * applied plainly. As in the release, dropout is applied to the module input once and both the
 * router (token 0) and the LoRA branch read the dropped input; the frozen x·W0 + b reads x.
 *
 * Dropout masks come from one key per hook and a call number that each dropout takes in turn
 * (the counter of a counter-based generator): nothing random is drawn per call on the host.
 * The hook is `Replayable` for checkpointed training: each layer's call number of the latest
 * forward is kept, and a replay reuses it and counts nothing, so the recomputed block is the
 * forward's exactly (same masks, same routing) and the counts are not doubled. A layer is applied
 * once per forward pass, so the latest call per layer is the one to replay.
 */
export function poolLinear(pool: AdapterPool, options: PoolForwardOptions): ReplayableLinearApply {
  const { config, scale } = pool;
  const r = config.rank;
  const countActivations = options.countActivations ?? options.training;
  let dropoutKey: [number, number] | null = null;
  let nextCall = 0;
  const dropoutCalls = new Map<string, number>();
  let replaying = false;
  const dropoutDraw = (layer: LinearLayer): MaskDraw => {
    if (replaying) {
      const call = dropoutCalls.get(layer.name);
      if (call === undefined || dropoutKey === null) {
        throw new Error(`poolLinear: no forward of ${layer.name} to replay`);
      }
      return { key: dropoutKey, call, rate: config.dropout };
    }
    if (options.rng === undefined) {
      throw new Error("poolLinear: training with dropout needs an rng");
    }
    dropoutKey ??= [options.rng.nextUint32(), options.rng.nextUint32()];
    const call = nextCall;
    // 144 calls a ViT-B/16 step: the 32-bit counter would wrap after ~30 million steps.
    nextCall = (nextCall + 1) % 2 ** 32;
    dropoutCalls.set(layer.name, call);
    return { key: dropoutKey, call, rate: config.dropout };
  };
  const linear: LinearApply = (layer, x) => {
    const adapter = pool.adapters.get(layer.name);
    if (adapter === undefined) return plainLinear(layer, x);
    const [batch, tokens, dIn] = x.shape;
    const dOut = adapter.up.shape[1];
    const base = plainLinear(layer, x);
    const counting = countActivations && !replaying;
    let branchInput: tf.Tensor3D = x;
    if (options.training && config.dropout > 0) {
      branchInput = tokenMajorDropout(x, dropoutDraw(layer));
    }
    const flat = tf.reshape(branchInput, [batch * tokens, dIn]);
    const hidden = tf.matMul(flat, adapter.down); // [batch·tokens, r]

    let gated: tf.Tensor;
    const { counts, routerWeight, routerBias } = adapter;
    if (config.routing === "all" || routerWeight === null || routerBias === null) {
      // Every expert active: each sample counts once for each.
      if (counting) counts.assign(offTape(() => tf.add(counts, batch)));
      gated = tf.mul(hidden, scale);
    } else {
      // Router probabilities on token 0 of each sample ([CLS] in vision, the start token in
      // text): [batch, r]. Off the tape unless the router learns through them.
      const routerProbs = () => {
        const first = tf.reshape(tf.slice(branchInput, [0, 0, 0], [batch, 1, dIn]), [batch, dIn]);
        return tf.softmax(tf.add(tf.matMul(first, routerWeight), routerBias)) as tf.Tensor2D;
      };
      const straightThrough = config.router === "straight-through";
      const probs = straightThrough ? routerProbs() : offTape(routerProbs);
      const votes = offTape(() => voteCounts(probs, config.topK)); // [r]
      const mask = offTape(() => mostVotedMask(votes, config.topK)); // [r] 0/1
      if (counting) counts.assign(offTape(() => tf.add(counts, votes)));
      if (straightThrough) {
        // gate = mask · (1 + (p - p)): exactly the mask forward, d gate / d p = mask backward.
        const constantProbs = offTape(() => tf.clone(probs));
        const gate = tf.mul(mask, tf.add(1, tf.sub(probs, constantProbs))); // [batch, r]
        const perSample = tf.reshape(hidden, [batch, tokens, r]);
        gated = tf.mul(tf.mul(perSample, tf.reshape(gate, [batch, 1, r])), scale);
        gated = tf.reshape(gated, [batch * tokens, r]);
      } else {
        gated = tf.mul(hidden, tf.mul(mask, scale));
      }
    }
    const branch = tf.reshape(tf.matMul(gated as tf.Tensor2D, adapter.up), [batch, tokens, dOut]);
    return tf.add(base, branch);
  };
  const learnsRouter = config.router !== "frozen";
  return Object.assign(linear, {
    variablesFor(layers: readonly LinearLayer[]): tf.Variable[] {
      const variables: tf.Variable[] = [];
      for (const layer of layers) {
        const adapter = pool.adapters.get(layer.name);
        if (adapter === undefined) continue;
        variables.push(adapter.down, adapter.up);
        if (learnsRouter && adapter.routerWeight && adapter.routerBias) {
          variables.push(adapter.routerWeight, adapter.routerBias);
        }
      }
      return variables;
    },
    replay<T>(compute: () => T): T {
      const outer = replaying;
      replaying = true;
      try {
        return compute();
      } finally {
        replaying = outer;
      }
    },
  });
}
