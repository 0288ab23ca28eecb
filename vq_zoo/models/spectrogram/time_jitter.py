"""Random time-shift jitter of a sequence of latents (Chorowski et al. 2019)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vq_zoo")
class TimeJitter(keras.layers.Layer):
    """In training, each step of a sequence is replaced by its left or right
    neighbour, each with probability `probability / 2` (the first and last
    steps by themselves at the edges); the identity at inference.

    Jitter keeps a decoder from relying on the exact position of a code, so
    a code has to describe something slower than one frame (a phone rather
    than the pitch period or the speaker's fine timing); Chorowski et al.
    found it improved the phonetic content of WaveNet-autoencoder codes.
    The gradient flows to the steps that were copied.

    Shape contract: `(batch, time, channels)` to the same shape.

    Args:
        probability: float in [0, 1], the chance that a step is replaced.
            Defaults to 0.12 (the paper's value).
        seed: int or None, seed of the layer's random draws.
        **kwargs: base layer arguments.

    Example:
    >>> jitter = TimeJitter(0.5, seed=0)
    >>> x = keras.ops.arange(6, dtype="float32")[None, :, None]
    >>> tuple(jitter(x, training=True).shape)
    (1, 6, 1)

    References:
        Chorowski, Weiss, Bengio, van den Oord. Unsupervised speech
        representation learning using WaveNet autoencoders. arXiv:1901.08810.
    """

    def __init__(self, probability=0.12, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) \
                or not 0.0 <= probability <= 1.0:
            raise ValueError(f"`probability` must be a number in [0, 1], got {probability!r}")
        self.probability = float(probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"TimeJitter expects (batch, time, channels), got {tuple(input_shape)}")

    def shifts(self, batch, steps):
        """Int32 shifts in {-1, 0, 1} `(batch, steps)` of one draw."""
        u = keras.random.uniform((batch, steps), seed=self.seed_generator)
        half = self.probability / 2.0
        return ops.cast(u >= 1.0 - half, "int32") - ops.cast(u < half, "int32")

    def call(self, x, training=None):
        if not training or self.probability == 0.0:
            return x
        shape = ops.shape(x)
        shift = self.shifts(shape[0], shape[1])[:, :, None]
        # Neighbours by slicing (a gather's gradient is lost in keras.ops'
        # take_along_axis on TensorFlow); the edges repeat themselves.
        left = ops.concatenate([x[:, :1], x[:, :-1]], axis=1)
        right = ops.concatenate([x[:, 1:], x[:, -1:]], axis=1)
        return ops.where(shift < 0, left, ops.where(shift > 0, right, x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability, seed=self.seed)
        return config


__all__ = ["TimeJitter"]
