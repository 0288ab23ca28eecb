"""A discretised mixture of logistics per channel of 8-bit data."""

import keras
from keras import ops

from vq_zoo.likelihoods.categorical import to_bins
from vq_zoo.likelihoods.likelihood import Likelihood
from vq_zoo.likelihoods.likelihood import register


@register("logistic_mixture")
@keras.saving.register_keras_serializable(package="vq_zoo")
class LogisticMixture(Likelihood):
    """A discretised mixture of `num_mixtures` logistics for every channel
    of every pixel (PixelCNN++'s likelihood without its channel coupling,
    since a VQ-VAE decoder predicts all channels at once).

    Values `0..255` (data `x * 255`) get the mass of the logistic mixture on
    `[v - 0.5, v + 0.5]`, with the tails folded into 0 and 255, so the 256
    probabilities sum to one. Built on `tfp.distributions`
    (`QuantizedDistribution` of `Logistic` in `MixtureSameFamily`). The decoder
    outputs `3 * num_mixtures` parameters per channel, grouped channel by
    channel: mixture logits, locations (`127.5 * (1 + raw)`, so 0 means mid
    grey) and log scales (`127.5 * exp(raw)`, floored at `exp(-7)`).

    Args:
        num_mixtures: int >= 1. Defaults to 5.

    Example:
    >>> lik = LogisticMixture(num_mixtures=2)
    >>> lik.output_channels(3)
    18
    >>> params = keras.ops.zeros((1, 2, 2, 18))
    >>> tuple(lik.negative_log_likelihood(keras.ops.zeros((1, 2, 2, 3)), params).shape)
    (1,)

    References:
        Salimans, Karpathy, Chen, Kingma. PixelCNN++: Improving the PixelCNN
        with Discretized Logistic Mixture Likelihood and Other Modifications.
        arXiv:1701.05517.
    """

    def __init__(self, num_mixtures=5):
        if not isinstance(num_mixtures, int) or num_mixtures < 1:
            raise ValueError(
                f"`num_mixtures` must be an integer >= 1, got {num_mixtures!r}"
            )
        self.num_mixtures = num_mixtures

    def output_channels(self, channels):
        return 3 * self.num_mixtures * channels

    def _split(self, params):
        params = ops.cast(params, "float32")
        n = 3 * self.num_mixtures
        channels = params.shape[-1] // n
        if channels * n != params.shape[-1]:
            raise ValueError(
                f"LogisticMixture expects 3 * num_mixtures * channels parameters "
                f"on the last axis (`num_mixtures`={self.num_mixtures}), got shape "
                f"{tuple(params.shape)}"
            )
        params = ops.reshape(params, tuple(ops.shape(params)[:-1]) + (channels, n))
        logits, loc, log_scale = ops.split(params, 3, axis=-1)
        loc = 127.5 * (1.0 + loc)
        scale = 127.5 * ops.exp(ops.maximum(log_scale, -7.0))
        return logits, loc, scale

    def distribution(self, params):
        """The `tfd.MixtureSameFamily` over values `0..255`, batch shape
        `(batch, *spatial, channels)`."""
        import tensorflow_probability as tfp

        tfd = tfp.distributions
        logits, loc, scale = self._split(params)
        # QuantizedDistribution gives value v the mass on (v - 1, v]: shift
        # the location down half a bin so that v gets (v - 0.5, v + 0.5].
        components = tfd.QuantizedDistribution(
            tfd.Logistic(loc=loc - 0.5, scale=scale), low=0.0, high=255.0
        )
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=logits), components
        )

    def _nll_per_dim(self, x, params):
        values = ops.cast(to_bins(x, 256), "float32")
        return -self.distribution(params).log_prob(values)

    def loss(self, x, params):
        return ops.mean(self._nll_per_dim(x, params))

    def negative_log_likelihood(self, x, params):
        nll = self._nll_per_dim(x, params)
        return ops.sum(ops.reshape(nll, (ops.shape(nll)[0], -1)), axis=-1)

    def reconstruct(self, params):
        logits, loc, _ = self._split(params)
        mean = ops.sum(ops.softmax(logits, axis=-1) * loc, axis=-1)
        return ops.clip(mean, 0.0, 255.0) / 255.0

    def get_config(self):
        return {"num_mixtures": self.num_mixtures}


__all__ = ["LogisticMixture"]
