"""A 256-way categorical distribution per channel of 8-bit data."""

import keras
from keras import ops

from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import register


def to_bins(x, num_bins):
    """Floats in [0, 1] (8-bit data / 255) to int bins in [0, num_bins)."""
    x = ops.cast(x, "float32")
    return ops.cast(ops.clip(ops.round(x * (num_bins - 1)), 0, num_bins - 1), "int32")


@register("categorical")
@keras.saving.register_keras_serializable(package="vq_zoo")
class Categorical(Likelihood):
    """An independent `num_bins`-way softmax for every channel of every
    pixel, as in PixelRNN/PixelCNN's decoders: the decoder outputs
    `num_bins * channels` logits, grouped channel by channel.

    `loss` is the mean negative log-likelihood per dimension in nats;
    `negative_log_likelihood` the per-example sum; `reconstruct` the mode,
    scaled back to [0, 1].

    Args:
        num_bins: int >= 2, number of values per channel. Defaults to 256.

    Example:
    >>> lik = Categorical()
    >>> lik.output_channels(3)
    768
    >>> x = keras.ops.zeros((2, 4, 4, 3))
    >>> nll = lik.negative_log_likelihood(x, keras.ops.zeros((2, 4, 4, 768)))
    >>> round(float(nll[0]) / 48, 4)  # uniform: ln 256 nats per dimension
    5.5452

    References:
        van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural
        Networks. arXiv:1601.06759.
    """

    def __init__(self, num_bins=256):
        if not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(f"`num_bins` must be an integer >= 2, got {num_bins!r}")
        self.num_bins = num_bins

    def output_channels(self, channels):
        return self.num_bins * channels

    def _logits(self, params):
        params = ops.cast(params, "float32")
        channels = params.shape[-1] // self.num_bins
        if channels * self.num_bins != params.shape[-1]:
            raise ValueError(
                f"Categorical expects {self.num_bins} * channels parameters on the "
                f"last axis (`num_bins`={self.num_bins}), got shape {tuple(params.shape)}"
            )
        return ops.reshape(
            params, tuple(ops.shape(params)[:-1]) + (channels, self.num_bins)
        )

    def _nll_per_dim(self, x, params):
        logits = self._logits(params)
        if tuple(x.shape[1:]) != tuple(logits.shape[1:-1]):
            raise ValueError(
                f"Data of shape {tuple(x.shape)} does not match parameters of "
                f"shape {tuple(params.shape)} (`num_bins`={self.num_bins})"
            )
        logp = ops.log_softmax(logits, axis=-1)
        bins = ops.expand_dims(to_bins(x, self.num_bins), -1)
        return -ops.squeeze(ops.take_along_axis(logp, bins, axis=-1), -1)

    def loss(self, x, params):
        return ops.mean(self._nll_per_dim(x, params))

    def loss_per_position(self, x, params):
        return ops.mean(self._nll_per_dim(x, params), axis=-1)

    def negative_log_likelihood(self, x, params):
        nll = self._nll_per_dim(x, params)
        return ops.sum(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=-1)

    def reconstruct(self, params):
        mode = ops.argmax(self._logits(params), axis=-1)
        return ops.cast(mode, "float32") / (self.num_bins - 1)

    def get_config(self):
        return {"num_bins": self.num_bins}


__all__ = ["Categorical", "to_bins"]
