/**
 * Activation-guided orthogonality (AGO): per module, sum |B_curᵀ B_past| where B_cur are the B
 * columns of the current task's most-activated experts (running counts) and B_past the columns
 * kept from every earlier task; the term is the mean over modules that have a past. Only B_cur
 * receives gradient (the past is constant); A is not constrained. No past (task 1): no term.
 *
 * In the input-major layout B columns are rows of `up` [r, d_out], and the bank is held
 * transposed, [d_out, n], so B_curᵀ B_past = up[S] · bank is a plain matmul. The current columns
 * are chosen on the device from the running counts (no read-back in the training step).
 *
 * |x| is taken with torch's gradient, sign(x), which is 0 at x = 0 (`absWithSignGradient`). Every
 * task's B starts at zero, so on the first step of every task after the first every product is
 * exactly 0: torch leaves the current columns where they are, tf.abs would push them.
 */
import * as tf from "@tensorflow/tfjs";
import type { AgoColumns } from "./config.ts";
import type { AgoBankEntry } from "./delta.ts";
import type { AdapterPool } from "./pool.ts";
import { mostActivatedSelector, offTape } from "./routing.ts";

/**
 * sign(x) as 1, -1 or 0 from exact comparisons. Not `tf.sign`: tfjs-wasm's Sign returns 0 for
 * |x| below about 1e-6 (measured: sign(1e-7) = 0 there, 1 on cpu and webgpu), and AGO's products
 * are that small on the first steps of a task.
 */
function exactSign(x: tf.Tensor): tf.Tensor {
  return tf.where(
    tf.greater(x, 0),
    tf.onesLike(x),
    tf.where(tf.less(x, 0), tf.fill(x.shape, -1), tf.zerosLike(x)),
  );
}

/**
 * |x| whose gradient is sign(x), 0 at x = 0, as torch defines it. tf.abs's gradient is
 * dy · step(x, -1), which is -1 at 0. The value is tf.abs's; the gradient dy · sign(x) from exact
 * comparisons (`exactSign`). Where, Greater and Less exist on cpu, wasm and webgpu.
 */
export const absWithSignGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([x]);
    return {
      value: tf.abs(x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, exactSign(saved[0]!)),
    };
  },
) as (x: tf.Tensor) => tf.Tensor;

/**
 * The bank as constant tensors [d_out, n] per module with a past (n > 0; a module without one has
 * no term). Dispose with `disposeAgoTensors`.
 */
export function agoTensors(bank: ReadonlyMap<string, AgoBankEntry>): Map<string, tf.Tensor2D> {
  const tensors = new Map<string, tf.Tensor2D>();
  for (const [name, { dOut, rows, count }] of bank) {
    if (count === 0) continue;
    tensors.set(name, tf.tidy(() => tf.transpose(tf.tensor2d(rows, [count, dOut])) as tf.Tensor2D));
  }
  return tensors;
}

export function disposeAgoTensors(tensors: Map<string, tf.Tensor2D>): void {
  for (const tensor of tensors.values()) tensor.dispose();
  tensors.clear();
}

/**
 * The AGO term of `pool` against `bank` (scalar), or null when no module has a past. Call it
 * inside the loss function after the forward passes, so the running counts include this batch
 * (as in the release, where the loss is computed after the forward).
 */
export function agoLoss(
  pool: AdapterPool,
  bank: ReadonlyMap<string, tf.Tensor2D>,
  options: { current: AgoColumns; critical: number },
): tf.Scalar | null {
  const terms: tf.Scalar[] = [];
  for (const [name, past] of bank) {
    const adapter = pool.adapters.get(name);
    if (adapter === undefined) continue;
    // Rows of `up` picked by a one-hot [c, r] matmul, ascending expert order (as `agoExperts`):
    // gather's gradient needs UnsortedSegmentSum, which tfjs-wasm lacks.
    const r = adapter.counts.shape[0];
    const selector = offTape(() =>
      options.current === "all"
        ? tf.eye(r) as tf.Tensor2D
        : mostActivatedSelector(adapter.counts, options.critical)
    );
    const current = tf.matMul(selector, adapter.up); // [c, d_out]
    terms.push(tf.sum(absWithSignGradient(tf.matMul(current, past)))); // |[c, n]| summed
  }
  if (terms.length === 0) return null;
  // Summed in order by a chain of adds, not tf.addN: tfjs-webgpu binds every addN input as a
  // storage buffer, and past the adapter's limit (8 on some) the kernel silently writes nothing.
  // cpu and wasm addN accumulate in the same order in float32, so the value is the same.
  const total = terms.reduce((sum, term) => tf.add(sum, term));
  return tf.div(total, terms.length) as tf.Scalar;
}
