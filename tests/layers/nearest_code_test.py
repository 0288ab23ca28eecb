import numpy as np
import pytest

from vq_zoo.layers.nearest_code import code_counts
from vq_zoo.layers.nearest_code import l2_normalize
from vq_zoo.layers.nearest_code import nearest_code


def brute_force(x, codebook):
    d = ((x[:, None, :].astype(np.float64) - codebook[None]) ** 2).sum(-1)
    return d.argmin(1)


@pytest.mark.parametrize("chunk", [None, 1, 5, 13, 64])
def test_nearest_code_is_the_brute_force_argmin_for_any_chunk(chunk):
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(13, 6)).astype(np.float32)
    x = rng.normal(size=(50, 6)).astype(np.float32)
    # Rows exactly on a code, and on the duplicate of one (a tie: lowest index).
    codebook[9] = codebook[2]
    x[:4] = codebook[[0, 2, 7, 12]]
    got = np.asarray(nearest_code(x, codebook, chunk))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, brute_force(x, codebook))
    np.testing.assert_array_equal(got[:4], [0, 2, 7, 12])


def test_code_counts_and_l2_normalize():
    counts = np.asarray(code_counts(np.array([0, 3, 3, 1, 3], np.int32), 5))
    np.testing.assert_array_equal(counts, [1, 1, 0, 3, 0])
    v = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(np.asarray(l2_normalize(v)), [[0.6, 0.8], [0.0, 0.0]])
