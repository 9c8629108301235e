/**
 * Expert selection as the release does it: each sample votes for its top-k experts, votes are
 * counted over the batch, and the k most-voted experts form the batch's mask.
 *
 * Two implementations of one rule: on plain arrays (`topKIndices`, `countVotes`, `expertMask`,
 * `mostActivated`: the reference, and what reads a finished task's counts), and as tensor ops
 * (`topKMask`, `voteCounts`, `mostVotedMask`, `mostActivatedSelector`) that the training step
 * runs on the device, so no module reads its router's output back to the CPU.
 *
 * Ties: the lower index wins among equal values. torch.topk does not document its tie order; its
 * CUDA kernel (the one the paper ran) keeps values above the k-th value and then fills with equal
 * values in index order, which is this rule. Vote counts are integers, so ties at the boundary do
 * happen. The tensor version ranks by pairwise comparisons rather than `tf.topk`, so the result
 * does not depend on how a backend's sort orders equal values.
 */
import * as tf from "@tensorflow/tfjs";

/** Indices of the `k` largest of `values`, largest first; ties go to the lower index. */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  // Stable sort on descending value keeps equal values in index order.
  order.sort((a, b) => (values[b]! - values[a]!) || a - b);
  return order.slice(0, Math.min(k, values.length));
}

/**
 * Votes per expert: `probs` is [batch, r] row-major (softmax of the router); each row adds one
 * vote to each of its top-`k` experts. Returns [r] vote counts.
 */
export function countVotes(probs: ArrayLike<number>, batch: number, options: {
  experts: number;
  k: number;
}): Float32Array {
  const { experts, k } = options;
  if (probs.length !== batch * experts) {
    throw new RangeError(
      `countVotes: ${probs.length} router outputs, expected ${batch}x${experts}`,
    );
  }
  const votes = new Float32Array(experts);
  for (let sample = 0; sample < batch; sample++) {
    const row = Array.prototype.slice.call(probs, sample * experts, (sample + 1) * experts);
    for (const expert of topKIndices(row as number[], k)) votes[expert]! += 1;
  }
  return votes;
}

/** [r] 0/1 mask of the `k` experts with the most votes. */
export function expertMask(votes: ArrayLike<number>, k: number): Float32Array {
  const mask = new Float32Array(votes.length);
  for (const expert of topKIndices(votes, k)) mask[expert] = 1;
  return mask;
}

/** The `m` experts with the highest activation counts, in ascending index order (as a mask selects). */
export function mostActivated(counts: ArrayLike<number>, m: number): number[] {
  return topKIndices(counts, m).sort((a, b) => a - b);
}

/**
 * Runs `compute` off the gradient tape and returns its result as a constant (tfjs has no
 * stop_gradient). Ops inside a custom-gradient forward are not recorded, and a node without
 * inputs is never on a path from the trained variables, so no gradient flows into or through the
 * result: routing reaches the loss only through which experts it picks, as torch's top-k indices.
 */
export function offTape<T extends tf.Tensor>(compute: () => T): T {
  return tf.customGrad(() => ({ value: compute(), gradFunc: () => [] }))() as T;
}

/**
 * A boolean tensor as float32 1/0. Not `tf.cast`: tfjs-webgpu casts bool to float32 by relabelling
 * the buffer, so the next float kernel reads the booleans' integer bits (1 reads as 1.4e-45).
 */
function zeroOne(condition: tf.Tensor): tf.Tensor {
  return tf.where(condition, tf.scalar(1), tf.scalar(0));
}

/** [r, r] 0/1: entry [i][j] is 1 where i < j. */
function lowerIndex(r: number): Float32Array {
  const lower = new Float32Array(r * r);
  for (let i = 0; i < r; i++) for (let j = i + 1; j < r; j++) lower[i * r + j] = 1;
  return lower;
}

/**
 * Per row of `values` [n, r], a 0/1 float mask [n, r] of its `k` largest entries, ties to the
 * lower index (the set `topKIndices` picks). Entry j is kept when fewer than k entries outrank it,
 * where i outranks j if v_i > v_j, or v_i = v_j and i < j: exact comparisons, no sort.
 */
export function topKMask(values: tf.Tensor2D, k: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, r] = values.shape;
    const rows = tf.reshape(values, [n, r, 1]); // v_i
    const cols = tf.reshape(values, [n, 1, r]); // v_j
    const lower = tf.tensor2d(lowerIndex(r), [r, r], "bool"); // i < j
    const outranks = tf.logicalOr(
      tf.greater(rows, cols),
      tf.logicalAnd(tf.greaterEqual(rows, cols), lower),
    ); // [n, i, j]
    const rank = tf.sum(zeroOne(outranks), 1); // [n, r]: entries outranking j
    return zeroOne(tf.less(rank, k)) as tf.Tensor2D;
  });
}

/** Votes per expert [r]: each row of `probs` [batch, r] votes for its top-`k` (`countVotes`). */
export function voteCounts(probs: tf.Tensor2D, k: number): tf.Tensor1D {
  return tf.tidy(() => tf.sum(topKMask(probs, k), 0) as tf.Tensor1D);
}

/** [r] 0/1 mask of the `k` most-voted experts (`expertMask`). */
export function mostVotedMask(votes: tf.Tensor1D, k: number): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(topKMask(tf.reshape(votes, [1, -1]), k), [-1]) as tf.Tensor1D);
}

/**
 * One-hot rows [min(m, r), r] picking the `m` experts with the highest `counts` [r], in ascending
 * index order (`mostActivated`): `selector · up` takes their rows of `up`.
 */
export function mostActivatedSelector(counts: tf.Tensor1D, m: number): tf.Tensor2D {
  return tf.tidy(() => {
    const r = counts.shape[0];
    const rows = Math.min(m, r);
    const chosen = topKMask(tf.reshape(counts, [1, r]), rows); // [1, r]
    // Row of chosen expert j = chosen experts below j: chosen · lower, lower[i][j] = (i < j).
    const row = tf.matMul(chosen, tf.tensor2d(lowerIndex(r), [r, r])); // [1, r]
    const rowIds = tf.reshape(tf.range(0, rows, 1, "float32"), [rows, 1]);
    return tf.mul(zeroOne(tf.equal(row, rowIds)), chosen) as tf.Tensor2D; // [rows, r]
  });
}
