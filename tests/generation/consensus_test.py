"""consensus_codes against a NumPy count, position by position."""

import collections

import numpy as np
import pytest

from vq_zoo.generation.consensus import consensus_codes


def numpy_consensus(samples):
    """Per position, the most common code of the draws (ties: the smallest)."""
    batch, num = samples.shape[:2]
    flat = samples.reshape(batch, num, -1)
    out = np.zeros((batch, flat.shape[-1]), np.int32)
    for b in range(batch):
        for p in range(flat.shape[-1]):
            counts = collections.Counter(flat[b, :, p].tolist())
            best = max(counts.values())
            out[b, p] = min(code for code, c in counts.items() if c == best)
    return out.reshape((batch,) + samples.shape[2:])


@pytest.mark.parametrize("num_samples,k", [(1, 5), (2, 3), (4, 3), (7, 6)])
def test_matches_a_numpy_count_with_ties_to_the_smallest_code(num_samples, k):
    # Few codes and even numbers of draws: many ties.
    samples = np.random.default_rng(num_samples).integers(0, k, (3, num_samples, 4, 5))
    got = np.asarray(consensus_codes(samples, k))
    assert got.dtype == np.int32 and got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, numpy_consensus(samples))
    if num_samples == 1:
        np.testing.assert_array_equal(got, samples[:, 0])


def test_refusals():
    with pytest.raises(ValueError, match="`num_embeddings` must be an integer >= 1"):
        consensus_codes(np.zeros((1, 2, 3), "int32"), 0)
    with pytest.raises(ValueError, match=r"num_samples >= 1, got shape \(1, 0, 3\)"):
        consensus_codes(np.zeros((1, 0, 3), "int32"), 4)
