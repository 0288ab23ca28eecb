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
    probabilities sum to one. `distribution(params)` gives it as
    `tfp.distributions` (`QuantizedDistribution` of `Logistic` in
    `MixtureSameFamily`), for sampling; the loss uses `log_prob`, the same
    masses computed without underflow to -inf (see there). The decoder
    outputs `3 * num_mixtures` parameters per channel, grouped channel by
    channel: mixture logits, locations (`127.5 * (1 + raw)`, so 0 means mid
    grey) and log scales (`127.5 * exp(raw)`, clipped to `[exp(-7), exp(7)]`).

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
        # Floored as in PixelCNN++, and capped so that exp cannot overflow
        # (127.5 * e^7 is far wider than the 0..255 range anyway).
        scale = 127.5 * ops.exp(ops.clip(log_scale, -7.0, 7.0))
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

    def log_prob(self, x, params):
        """`log p(x)` per dimension, shape `(batch, *spatial, channels)`.

        The same masses as `distribution(params).log_prob`, computed so that
        neither the value nor its gradient is ever -inf or NaN: a bin far
        from every component has `cdf(v + 0.5) - cdf(v - 0.5)` underflow to
        0 (log 0 = -inf, and NaN gradients through the mixture), so where
        that difference is below 1e-5 its log is taken from the density at
        the bin centre (the bin is one value wide), as in PixelCNN++; the
        edge bins 0 and 255 use `log sigmoid` and `-softplus` directly.
        """
        logits, loc, scale = self._split(params)
        values = ops.cast(to_bins(x, 256), "float32")[..., None]
        centred = values - loc
        inv_scale = 1.0 / scale
        plus = inv_scale * (centred + 0.5)
        minus = inv_scale * (centred - 0.5)
        log_cdf_plus = plus - ops.softplus(plus)  # log sigmoid(plus)
        log_survival_minus = -ops.softplus(minus)  # log (1 - sigmoid(minus))
        delta = ops.sigmoid(plus) - ops.sigmoid(minus)
        mid = inv_scale * centred
        log_pdf_mid = mid - ops.log(scale) - 2.0 * ops.softplus(mid)
        interior = ops.where(
            delta > 1e-5, ops.log(ops.maximum(delta, 1e-12)), log_pdf_mid
        )
        log_mass = ops.where(
            values < 0.5,
            log_cdf_plus,
            ops.where(values > 254.5, log_survival_minus, interior),
        )
        log_weights = ops.log_softmax(logits, axis=-1)
        return ops.logsumexp(log_weights + log_mass, axis=-1)

    def _nll_per_dim(self, x, params):
        return -self.log_prob(x, params)

    def loss(self, x, params):
        return ops.mean(self._nll_per_dim(x, params))

    def loss_per_position(self, x, params):
        return ops.mean(self._nll_per_dim(x, params), axis=-1)

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
