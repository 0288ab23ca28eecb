"""The nearest-code search of the vector quantizers.

`nearest_code(flat, codebook)` is the one search every codebook layer runs
(the VQ layers' forward pass and `encode`, and the k-means of their
initialisation): float32 rows against float32 codes, squared L2 distance,
chunked over the codebook when it is large.
"""

import keras
from keras import ops

# Codebooks larger than this are searched in blocks of this many codes by
# default: with 32768 vectors a block is 512 MiB of float32 distances.
DEFAULT_CHUNK = 4096


def l2_normalize(x, epsilon=1e-12):
    """`x / |x|` along the last axis (zero vectors stay finite)."""
    return x * ops.rsqrt(
        ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), epsilon)
    )


def argmin_rows(d):
    """`argmin` over axis 1 as int32. `keras.ops.argmin` on the TensorFlow
    backend first rewrites every -0.0 of a float input (extra passes over the
    (N, K) distance matrix, costing more than the argmin itself); ties
    between -0.0 and 0.0 do not matter for a nearest-code search."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.argmin(d, axis=1, output_type=tf.int32)
    return ops.cast(ops.argmin(d, axis=1), "int32")


def _sequential_fori_loop(lower, upper, body, init):
    """`ops.fori_loop` whose iterations run one after another on TensorFlow
    (`tf.while_loop` keeps 10 in flight by default: 10 distance blocks)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        _, out = tf.while_loop(
            lambda j, _: j < upper,
            lambda j, s: (j + 1, body(j, s)),
            (tf.constant(lower), init),
            parallel_iterations=1,
        )
        return out
    return ops.fori_loop(lower, upper, body, init)


def nearest_code(flat, codebook, chunk_size=None):
    """Index (int32) of the nearest row of `codebook` for each row of `flat`.

    Args:
        flat: float32 `(N, D)` vectors.
        codebook: float32 `(K, D)` codes, `K` and `D` known statically.
        chunk_size: int or None, the most codes whose distances exist at once.
            None: the whole codebook up to `DEFAULT_CHUNK` codes, blocks of
            `DEFAULT_CHUNK` above.

    The squared distance is `|x|^2 - 2 x.e + |e|^2`; `|x|^2` is the same for
    every code, so the argmin needs only `|e|^2 - 2 x.e`, which one matmul
    gives as `[x, 1] . [-2e, |e|^2]` with no elementwise pass over the
    (N, K) matrix. A codebook larger than `chunk_size` is searched block by
    block in a sequential loop with a running minimum, so at most one
    (N, chunk) block exists at a time; ties go to the lowest index either way.
    """
    k, dim = codebook.shape
    chunk = chunk_size or (k if k <= DEFAULT_CHUNK else DEFAULT_CHUNK)
    chunk = min(chunk, k)
    ones = ops.ones((ops.shape(flat)[0], 1), dtype=flat.dtype)
    flat_aug = ops.concatenate([flat, ones], axis=1)
    code_aug = ops.concatenate(
        [-2.0 * codebook, ops.sum(ops.square(codebook), axis=1, keepdims=True)],
        axis=1,
    )
    if chunk >= k:
        return argmin_rows(ops.matmul(flat_aug, ops.transpose(code_aug)))
    pad = (-k) % chunk
    if pad:  # padded codes sit at distance 3e38: never the nearest
        filler = ops.concatenate(
            [ops.zeros((pad, dim)), ops.full((pad, 1), 3e38)], axis=1
        )
        code_aug = ops.concatenate([code_aug, filler], axis=0)
    blocks = ops.reshape(code_aug, (-1, chunk, dim + 1))

    def body(j, state):
        best_d, best_i = state
        d = ops.matmul(flat_aug, ops.transpose(blocks[j]))
        i = argmin_rows(d)
        m = ops.take_along_axis(d, i[:, None], axis=1)[:, 0]
        better = ops.less(m, best_d)
        return (
            ops.where(better, m, best_d),
            ops.where(better, i + j * chunk, best_i),
        )

    n = ops.shape(flat)[0]
    init = (ops.full((n,), float("inf")), ops.zeros((n,), dtype="int32"))
    return _sequential_fori_loop(0, blocks.shape[0], body, init)[1]


def code_counts(indices, num_embeddings):
    """float32 `(num_embeddings,)`: how often each code occurs in `indices`
    (flat int32, this replica's rows only)."""
    return ops.segment_sum(
        ops.ones_like(indices, dtype="float32"),
        indices,
        num_segments=num_embeddings,
    )


__all__ = ["DEFAULT_CHUNK", "code_counts", "l2_normalize", "nearest_code"]
