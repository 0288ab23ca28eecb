"""Consensus (minimum-Bayes-risk) decoding of sampled code maps.

Given `N` maps drawn from an autoregressive model for the same condition,
the map that takes at each position the code most of the draws agree on is
the minimum-Bayes-risk decision for the Hamming loss (the fraction of
positions wrong): that loss is a sum over positions, so its expectation is
minimised position by position by the most probable code of each position's
marginal, and the draws' most frequent code estimates that argmax (Kumar &
Byrne 2004; Goel & Byrne 2000). Greedy decoding (the argmax of each
conditional given the codes chosen before it) minimises no such loss, and
once its first codes of a region are wrong it follows them (exposure bias).

Example:
>>> import numpy as np
>>> samples = np.array([[[0, 1], [0, 2], [3, 1]]])   # 1 example, 3 draws of 2 codes
>>> np.asarray(consensus_codes(samples, num_embeddings=4))
array([[0, 1]], dtype=int32)
"""

from keras import ops

from vq_zoo.utils.checks import check_int


def consensus_codes(samples, num_embeddings):
    """The most frequent code at each position across the draws.

    Args:
        samples: int codes `(batch, num_samples, *positions)`, the draws of
            each example along axis 1.
        num_embeddings: int K; every code is in `[0, K)`.

    Returns:
        int32 `(batch, *positions)`: at each position the code drawn most
        often among that example's `num_samples` draws; a tie goes to the
        smallest code.
    """
    k = check_int("num_embeddings", num_embeddings, numpy=True)
    samples = ops.convert_to_tensor(samples)
    if len(samples.shape) < 2 or samples.shape[1] == 0:
        raise ValueError("`samples` must be int codes (batch, num_samples, ...) with "
                         f"num_samples >= 1, got shape {tuple(samples.shape)}")
    counts = ops.sum(ops.one_hot(ops.cast(samples, "int32"), k, dtype="int32"), axis=1)
    # Ties to the smallest code, explicitly: the scores are all distinct
    # (an argmax over equal values may return any of them).
    scores = counts * k + ops.arange(k - 1, -1, -1, dtype="int32")
    return ops.cast(ops.argmax(scores, axis=-1), "int32")


__all__ = ["consensus_codes"]
