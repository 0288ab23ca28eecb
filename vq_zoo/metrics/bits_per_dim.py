"""Bits per dimension of a VQ-VAE with a prior over its codes."""

import math

import numpy as np
from keras import ops


def bits_per_dim(vqvae, prior, dataset):
    """`-(log p(x | z) + log p(z)) / (num_dims * ln 2)` averaged over a
    dataset: the quantity of Table 1 of the gated PixelCNN paper, for a
    VQ-VAE (its decoder likelihood gives `log p(x | z)`, with `z` the
    encoder's codes) and a prior over the codes (`log p(z)`).

    It needs a discrete likelihood over 8-bit data (`"categorical"` or
    `"logistic_mixture"`; `"mse"` raises a ValueError). Data are floats in
    [0, 1] on the 8-bit grid (uint8 / 255).

    Args:
        vqvae: a `vq_zoo.VQVAE`.
        prior: a `GatedPixelCNNPrior` (or `GatedPixelCNN1DPrior`) over
            `vqvae.encode(x)`.
        dataset: an iterable of batches: `x`, or `(x, condition)` for a
            conditional prior (`condition` as `prior.sample` takes it).

    Returns:
        A Python float: bits per data dimension.

    Example:
    >>> vqvae = VQVAE.image_model(num_hiddens=8, num_residual_hiddens=4,
    ...     embedding_dim=4, num_embeddings=16, likelihood="categorical")
    >>> prior = GatedPixelCNNPrior(16, (2, 2), filters=8, num_layers=2)
    >>> x = keras.ops.zeros((2, 8, 8, 3))
    >>> bpd = bits_per_dim(vqvae, prior, [x])

    References:
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
    """
    total_nats, total_dims = 0.0, 0
    for batch in dataset:
        condition = None
        if isinstance(batch, (tuple, list)):
            x = batch[0]
            condition = batch[1] if len(batch) > 1 else None
        else:
            x = batch
        x = ops.convert_to_tensor(x)
        codes = vqvae.encode(x)
        # `latents`: a code map to z_q (a residual quantizer's stage codes
        # sit side by side in it); models without it look codes up directly.
        lookup = getattr(vqvae, "latents", None) or vqvae.quantizer.lookup
        params = vqvae.decoder(lookup(codes), training=False)
        nll_x = vqvae.likelihood.negative_log_likelihood(x, params)
        if condition is None:
            prior_inputs = codes
        elif isinstance(condition, dict):
            prior_inputs = {"codes": codes, **condition}
        else:
            key = "condition" if prior.has_condition else "spatial_condition"
            prior_inputs = {"codes": codes, key: condition}
        nll_z = -prior.log_prob(prior_inputs)
        total_nats += float(np.sum(np.asarray(nll_x, "float64")))
        total_nats += float(np.sum(np.asarray(nll_z, "float64")))
        total_dims += int(np.prod(x.shape))
    if total_dims == 0:
        raise ValueError("`dataset` is empty.")
    return total_nats / (total_dims * math.log(2.0))


__all__ = ["bits_per_dim"]
