"""8-bit mu-law companding of audio, and the K-way likelihood over it."""

import keras
import numpy as np
from keras import ops

from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import register
from vq_zoo.utils.checks import check_int


def mu_law_encode(x, num_classes=256):
    """Audio in [-1, 1] to ints in [0, num_classes): `sign(x) ln(1 + mu|x|) /
    ln(1 + mu)` with `mu = num_classes - 1`, then uniform bins (WaveNet,
    section 2.2). Values outside [-1, 1] are clipped; NaN maps to the
    middle code (silence), so that a batch holding one is skipped by its
    non-finite loss rather than failing on an out-of-range code."""
    mu = float(check_int("num_classes", num_classes, 2, numpy=True) - 1)
    x = ops.cast(x, "float32")
    x = ops.clip(ops.where(ops.isnan(x), 0.0, x), -1.0, 1.0)
    y = ops.sign(x) * ops.log1p(mu * ops.abs(x)) / np.log1p(mu)
    return ops.cast(ops.clip(ops.floor((y + 1.0) / 2.0 * mu + 0.5), 0, mu), "int32")


def mu_law_decode(q, num_classes=256):
    """Ints in [0, num_classes) back to audio in [-1, 1] (the inverse of
    `mu_law_encode` at the bin centres)."""
    mu = float(check_int("num_classes", num_classes, 2, numpy=True) - 1)
    y = 2.0 * ops.cast(q, "float32") / mu - 1.0
    return ops.sign(y) * ops.expm1(ops.abs(y) * np.log1p(mu)) / mu


@register("mu_law")
@keras.saving.register_keras_serializable(package="vq_zoo")
class MuLaw(Likelihood):
    """A `num_classes`-way softmax over the mu-law bins of mono audio
    `(batch, time, 1)` in [-1, 1]: WaveNet's output distribution.

    With an autoregressive decoder, `VQVAE` trains it on `targets(x)` (the
    mu-law ints, `(batch, time)`) and maps samples back with
    `from_targets`. With a plain decoder, the decoder outputs
    `num_classes` logits per step and `loss` is their cross-entropy.

    Args:
        num_classes: int >= 2, number of bins. Defaults to 256 (8 bits).

    Example:
    >>> lik = MuLaw()
    >>> q = lik.targets(keras.ops.zeros((1, 4, 1)))
    >>> [int(v) for v in q[0]]
    [128, 128, 128, 128]

    References:
        van den Oord et al. WaveNet: A Generative Model for Raw Audio.
        arXiv:1609.03499.
    """

    def __init__(self, num_classes=256):
        self.num_classes = check_int("num_classes", num_classes, 2, numpy=True)

    def output_channels(self, channels):
        if channels != 1:
            raise ValueError(f"MuLaw models mono audio (1 channel), got {channels}")
        return self.num_classes

    def targets(self, x):
        x = ops.convert_to_tensor(x)
        if len(x.shape) != 3 or x.shape[-1] != 1:
            raise ValueError(
                f"MuLaw expects mono audio of shape (batch, time, 1), got {tuple(x.shape)}"
            )
        return mu_law_encode(x[..., 0], self.num_classes)

    def from_targets(self, q):
        return mu_law_decode(q, self.num_classes)[..., None]

    def negative_log_likelihood(self, x, params):
        logp = ops.log_softmax(ops.cast(params, "float32"), axis=-1)
        q = ops.expand_dims(self.targets(x), -1)
        nll = -ops.take_along_axis(logp, q, axis=-1)
        return ops.sum(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=-1)

    def loss(self, x, params):
        logp = ops.log_softmax(ops.cast(params, "float32"), axis=-1)
        q = ops.expand_dims(self.targets(x), -1)
        return -ops.mean(ops.take_along_axis(logp, q, axis=-1))

    def reconstruct(self, params):
        return self.from_targets(ops.argmax(params, axis=-1))

    def get_config(self):
        return {"num_classes": self.num_classes}


__all__ = ["MuLaw", "mu_law_decode", "mu_law_encode"]
