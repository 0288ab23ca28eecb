"""Decoder of a few latent vectors to a spatial feature map."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class LatentMapDecoder(keras.layers.Layer):
    """Maps `num_latents` vectors `(batch, num_latents, embedding_dim)` to a
    float feature map `(batch, height, width, channels)`: the spatial
    condition DeepMind Lab's second-stage PixelCNN decoder reads from the 3
    quantised vectors (the learned `s = m(h)` of conditional PixelCNN).

    A global condition adds the same bias at every position, so a PixelCNN
    conditioned only globally on the 3 codes can say *which* stage-1 codes a
    map holds but not *where*: position comes from the preceding codes
    alone, and greedy decoding from the codes drifts. This layer gives every
    position its own conditioning vector.

    The vectors are flattened, go through a dense layer (`hidden_units`,
    ReLU) and a dense layer to a coarse `(ceil(height / upsample),
    ceil(width / upsample), channels)` map (ReLU), which a transposed 3x3
    convolution of stride `upsample` (ReLU) and a 3x3 convolution bring to
    `(height, width, channels)` (cropped at the bottom and right).

    Args:
        shape: pair of ints, `(height, width)` of the output map.
        channels: int, channels of the output map.
        hidden_units: int, width of the hidden dense layer. Defaults to 256.
        upsample: int >= 1, the transposed convolution's stride. Defaults
            to 3 (21x21 maps from a 7x7 grid).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> decoder = LatentMapDecoder(shape=(21, 21), channels=8, hidden_units=16)
    >>> tuple(decoder(keras.random.normal((2, 3, 4))).shape)
    (2, 21, 21, 8)

    References:
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328 (section 2.3).
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.2).
    """

    def __init__(self, shape, channels, hidden_units=256, upsample=3, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
        if (not isinstance(shape, tuple) or len(shape) != 2
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                       for d in shape)):
            raise ValueError(
                f"`shape` must be a pair of positive ints (height, width), got {shape!r}")
        for name, value in [("channels", channels), ("hidden_units", hidden_units),
                            ("upsample", upsample)]:
            check_int(name, value)
        self.shape = shape
        self.channels = channels
        self.hidden_units = hidden_units
        self.upsample = upsample
        self.grid = tuple(-(-d // upsample) for d in shape)
        self.hidden = keras.layers.Dense(hidden_units, activation="relu",
                                         dtype=self.dtype_policy, name="hidden")
        self.to_grid = keras.layers.Dense(self.grid[0] * self.grid[1] * channels,
                                          activation="relu", dtype=self.dtype_policy,
                                          name="to_grid")
        self.upsampler = keras.layers.Conv2DTranspose(
            channels, 3, strides=upsample, padding="same", activation="relu",
            dtype=self.dtype_policy, name="upsample")
        self.conv_out = keras.layers.Conv2D(channels, 3, padding="same",
                                            dtype=self.dtype_policy, name="conv_out")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "LatentMapDecoder expects vectors (batch, num_latents, embedding_dim) "
                f"with known sizes, got shape {input_shape}")
        self.hidden.build((None, input_shape[1] * input_shape[2]))
        self.to_grid.build((None, self.hidden_units))
        self.upsampler.build((None,) + self.grid + (self.channels,))
        self.conv_out.build((None,) + self.shape + (self.channels,))
        self.built = True

    def call(self, vectors):
        x = ops.reshape(vectors, (ops.shape(vectors)[0], -1))
        x = self.to_grid(self.hidden(x))
        x = ops.reshape(x, (-1,) + self.grid + (self.channels,))
        x = self.upsampler(x)[:, :self.shape[0], :self.shape[1]]
        return self.conv_out(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.shape + (self.channels,)

    def get_config(self):
        config = super().get_config()
        config.update(shape=self.shape, channels=self.channels,
                      hidden_units=self.hidden_units, upsample=self.upsample)
        return config


__all__ = ["LatentMapDecoder"]
