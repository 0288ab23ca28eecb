"""The VQ-VAE's speech encoder: strided 1D convolutions, 64x downsampling."""

import keras

from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class SpeechEncoder(keras.layers.Layer):
    """`num_downsamples` convolutions of stride 2 and window 4 with ReLUs
    (paper section 4.3: 6 of them, 64x), then a 1x1 convolution to
    `embedding_dim` channels: one latent per `2 ** num_downsamples`
    samples.

    Lengths: `"same"` padding, so `time` samples give
    `ceil(time / 2 ** num_downsamples)` latents (the input is zero-padded
    at the end up to a multiple); `WaveNetDecoder` crops the upsampled
    latents back to `time`.

    Shape contract: float audio `(batch, time, 1)` to `(batch,
    ceil(time / hop_length), embedding_dim)`.

    Args:
        num_hiddens: int, channels of the strided convolutions.
        embedding_dim: int, channels of the latents (the quantiser's
            `embedding_dim`).
        num_downsamples: int, strided convolutions. Defaults to 6.
        **kwargs: base layer arguments.

    Example:
    >>> encoder = SpeechEncoder(num_hiddens=8, embedding_dim=4)
    >>> tuple(encoder(keras.ops.zeros((2, 130, 1))).shape)
    (2, 3, 4)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
    """

    def __init__(self, num_hiddens, embedding_dim, num_downsamples=6, **kwargs):
        super().__init__(**kwargs)
        for name, value in [("num_hiddens", num_hiddens), ("embedding_dim", embedding_dim),
                            ("num_downsamples", num_downsamples)]:
            check_int(name, value)
        self.num_hiddens = num_hiddens
        self.embedding_dim = embedding_dim
        self.num_downsamples = num_downsamples
        self.convs = [
            keras.layers.Conv1D(num_hiddens, 4, strides=2, padding="same",
                                activation="relu", dtype=self.dtype_policy,
                                name=f"strided_conv{i}")
            for i in range(num_downsamples)
        ]
        self.to_latents = keras.layers.Conv1D(embedding_dim, 1, dtype=self.dtype_policy,
                                              name="to_latents")

    @property
    def hop_length(self):
        return 2 ** self.num_downsamples

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3 or shape[-1] != 1:
            raise ValueError(
                f"SpeechEncoder expects mono audio (batch, time, 1), got {shape}")
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        self.to_latents.build(shape)

    def call(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.to_latents(x)

    def compute_output_shape(self, input_shape):
        time = input_shape[1]
        steps = None if time is None else -(-time // self.hop_length)
        return (input_shape[0], steps, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(num_hiddens=self.num_hiddens, embedding_dim=self.embedding_dim,
                      num_downsamples=self.num_downsamples)
        return config


__all__ = ["SpeechEncoder"]
