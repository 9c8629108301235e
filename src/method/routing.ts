/**
 * Expert selection as the release does it, on plain arrays (the router's output is tiny:
 * [batch, r]): each sample votes for its top-k experts, votes are counted over the batch, and the
 * k most-voted experts form the batch's mask.
 *
 * Ties: `topKIndices` prefers the lower index among equal values. torch.topk does not document
 * its tie order; its CUDA kernel (the one the paper ran) keeps values above the k-th value and
 * then fills with equal values in index order, which is this rule. Vote counts are integers, so
 * ties at the boundary do happen.
 */

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
