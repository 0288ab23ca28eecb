"""The decoder likelihood interface used by `VQVAE`.

A likelihood turns the decoder's raw output ("parameters") into a training
loss, a per-example negative log-likelihood in nats (for bits/dim), and a
reconstruction in data space. Images are floats in [0, 1] (uint8 / 255).
"""

import keras


class Likelihood:
    """Base class of decoder likelihoods.

    Subclasses implement `output_channels`, `loss`, `reconstruct`, and, when
    the likelihood is a proper discrete distribution over 8-bit data,
    `negative_log_likelihood`.
    """

    def output_channels(self, channels):
        """Number of decoder output channels for data with `channels`."""
        raise NotImplementedError

    def loss(self, x, params):
        """Scalar training loss: a mean over the batch (the local batch under
        `tf.distribute`), so that the model can scale it to the global batch."""
        raise NotImplementedError

    def loss_per_position(self, x, params):
        """The loss at each position of `x` (its channels averaged), shape
        `x.shape[:-1]`; its mean is `loss(x, params)`. For a loss that
        weighs positions unequally (`MapHeadTuner`'s object weight)."""
        raise NotImplementedError(
            f"{self.__class__.__name__} has no per-position loss; use 'mse', "
            "'categorical' or 'logistic_mixture'")

    def negative_log_likelihood(self, x, params):
        """Per-example `-log p(x | z)` in nats, shape `(batch,)`."""
        raise ValueError(
            f"{self.__class__.__name__} is not a discrete likelihood over 8-bit "
            "data, so it has no bits/dim; use 'categorical' or "
            "'logistic_mixture'."
        )

    def reconstruct(self, params):
        """A reconstruction in data space (the mean or mode)."""
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_REGISTRY = {}


def register(name):
    def wrap(cls):
        _REGISTRY[name] = cls
        return cls

    return wrap


def get(identifier):
    """A `Likelihood` from a name ("mse", ...), a serialized dict or an
    instance."""
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _REGISTRY:
            raise ValueError(
                f"Unknown likelihood {identifier!r}; expected one of "
                f"{sorted(_REGISTRY)} or a `Likelihood` instance."
            )
        return _REGISTRY[identifier]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(
        f"Unknown likelihood {identifier!r}; expected one of "
        f"{sorted(_REGISTRY)} or a `Likelihood` instance."
    )
