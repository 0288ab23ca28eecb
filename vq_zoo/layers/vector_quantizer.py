"""Vector quantiser whose codebook learns by gradient (VQ-VAE, eq. 3)."""

import keras

from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer


@keras.saving.register_keras_serializable(package="vq_zoo")
class VectorQuantizer(BaseVectorQuantizer):
    """Vector quantiser trained by the codebook and commitment losses.

    Each vector along the last axis of the input is replaced by its nearest
    codebook entry (L2). Gradients pass to the input by the straight-through
    estimator `z_e + stop_gradient(z_q - z_e)`; the codebook learns from the
    codebook loss `mean((stop_gradient(z_e) - e) ** 2)` and the encoder is
    held to its codes by the commitment loss
    `commitment_cost * mean((z_e - stop_gradient(e)) ** 2)`. The two losses are
    returned separately, so each reaches only its own side.

    Shape contract: input `(..., embedding_dim)` of rank >= 2, e.g.
    `(B, T, D)`, `(B, H, W, D)` or `(B, T, H, W, D)`; `"quantized"` has the
    same shape and `"encoding_indices"` has shape `(...)`.

    Args:
        embedding_dim: int, size of each code vector (the input's last axis).
        num_embeddings: int, number of codes `K`.
        commitment_cost: float, `beta` of eq. 3. Defaults to 0.25.
        embeddings_initializer: initializer of the `(K, D)` codebook. Defaults
            to Sonnet's uniform initialiser with variance `1 / embedding_dim`.
        kmeans_init: bool, opt-in: on the first training call set the
            codebook to k-means centroids of encoder outputs.
        kmeans_iters: int, Lloyd iterations of that k-means.
        dead_code_threshold: float, opt-in (0 is off): codes whose moving
            average count per step falls below this are re-seeded from encoder
            outputs of the current batch.
        dead_code_decay: float, decay of that moving average count.
        distance_chunk_size: int or None: search the codebook in blocks of
            this many codes to bound memory for large `K`.
        seed: int or None, seeds the initialiser and the remedies' sampling.
        rotation_trick: bool, opt-in: the gradient reaching the input is the
            upstream gradient rotated from `z_q` to `z_e` (arXiv 2410.06424)
            instead of copied (straight-through). The forward pass is
            unchanged.
        use_cosine_similarity: bool, opt-in: inputs and codes are
            l2-normalised before the search (the nearest code by cosine
            similarity); `"quantized"` holds unit vectors.
        codebook_dim: int or None: codes of this size; inputs are projected
            into it (`project_in`) and quantised vectors back to
            `embedding_dim` (`project_out`). None: `embedding_dim`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> vq = VectorQuantizer(embedding_dim=8, num_embeddings=32)
    >>> out = vq(keras.random.normal((2, 4, 4, 8)))
    >>> tuple(out["encoding_indices"].shape)
    (2, 4, 4)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
        Yu et al. Vector-quantized Image Modeling with Improved VQGAN.
        arXiv:2110.04627 (cosine similarity, low-dimensional codebooks).
        Fifty et al. Restructuring Vector Quantization with the Rotation
        Trick. arXiv:2410.06424.
    """

    codebook_trainable = True


__all__ = ["VectorQuantizer"]
