/**
 * Activation-guided orthogonality (AGO): per module, sum |B_curᵀ B_past| where B_cur are the B
 * columns of the current task's most-activated experts (running counts) and B_past the columns
 * kept from every earlier task; the term is the mean over modules that have a past. Only B_cur
 * receives gradient (the past is constant); A is not constrained. No past (task 1): no term.
 *
 * In the input-major layout B columns are rows of `up` [r, d_out], and the bank is held
 * transposed, [d_out, n], so B_curᵀ B_past = up[S] · bank is a plain matmul.
 */
import * as tf from "@tensorflow/tfjs";
import type { AgoColumns } from "./config.ts";
import { type AgoBankEntry, agoExperts } from "./delta.ts";
import type { AdapterPool } from "./pool.ts";

/** The bank as constant tensors [d_out, n] per module. Dispose with `disposeAgoTensors`. */
export function agoTensors(bank: ReadonlyMap<string, AgoBankEntry>): Map<string, tf.Tensor2D> {
  const tensors = new Map<string, tf.Tensor2D>();
  for (const [name, { dOut, rows, count }] of bank) {
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
    const experts = agoExperts(adapter.counts, {
      columns: options.current,
      critical: options.critical,
    });
    // Rows of `up` picked by a one-hot [c, r] matmul: gather's gradient needs
    // UnsortedSegmentSum, which tfjs-wasm lacks.
    const r = adapter.counts.length;
    const selector = new Float32Array(experts.length * r);
    experts.forEach((expert, row) => (selector[row * r + expert] = 1));
    const current = tf.matMul(tf.tensor2d(selector, [experts.length, r]), adapter.up); // [c, d_out]
    terms.push(tf.sum(tf.abs(tf.matMul(current, past)))); // |[c, n]| summed
  }
  if (terms.length === 0) return null;
  return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
}
