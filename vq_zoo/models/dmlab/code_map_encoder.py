"""Encoder of integer code maps to a few latent vectors."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class CodeMapEncoder(keras.layers.Layer):
    """Maps an int code map `(batch, height, width)` to `num_latents`
    vectors `(batch, num_latents, embedding_dim)`: the encoder of DeepMind
    Lab's second stage (21x21 codes of the first stage to 3 vectors, each
    then quantised by its own codebook).

    The codes are embedded (`filters` channels), go through a 3x3
    convolution and `num_downsamples` strided 4x4 convolutions (ReLU), are
    flattened, and two dense layers (`hidden_units`, ReLU, then
    `num_latents * embedding_dim`) give the vectors. The spatial layout of
    the map is kept until the flattening, so the vectors can tell where
    things are (the paper's 3 codes keep the layout of the maze).

    Args:
        num_embeddings: int, number of values of the input codes.
        num_latents: int, number of output vectors. Defaults to 3.
        embedding_dim: int, size of each vector. Defaults to 64.
        filters: int, channels of the convolutions. Defaults to 64.
        num_downsamples: int >= 0, strided convolutions. Defaults to 2.
        hidden_units: int, width of the hidden dense layer. Defaults to 256.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> encoder = CodeMapEncoder(num_embeddings=16, num_latents=3,
    ...                          embedding_dim=8, filters=8, hidden_units=16)
    >>> z = encoder(keras.random.randint((2, 21, 21), 0, 16))
    >>> tuple(z.shape)
    (2, 3, 8)

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937 (section 4.2).
    """

    def __init__(self, num_embeddings, num_latents=3, embedding_dim=64, filters=64,
                 num_downsamples=2, hidden_units=256, **kwargs):
        super().__init__(**kwargs)
        for name, value, lower in [("num_embeddings", num_embeddings, 2),
                                   ("num_latents", num_latents, 1),
                                   ("embedding_dim", embedding_dim, 1),
                                   ("filters", filters, 1),
                                   ("num_downsamples", num_downsamples, 0),
                                   ("hidden_units", hidden_units, 1)]:
            check_int(name, value, lower)
        self.num_embeddings = num_embeddings
        self.num_latents = num_latents
        self.embedding_dim = embedding_dim
        self.filters = filters
        self.num_downsamples = num_downsamples
        self.hidden_units = hidden_units
        self.code_embedding = keras.layers.Embedding(
            num_embeddings, filters, dtype=self.dtype_policy, name="code_embedding")
        self.conv_in = keras.layers.Conv2D(
            filters, 3, padding="same", activation="relu", dtype=self.dtype_policy,
            name="conv_in")
        self.downsamples = [
            keras.layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu",
                                dtype=self.dtype_policy, name=f"downsample{i}")
            for i in range(num_downsamples)
        ]
        self.hidden = keras.layers.Dense(hidden_units, activation="relu",
                                         dtype=self.dtype_policy, name="hidden")
        self.to_latents = keras.layers.Dense(num_latents * embedding_dim,
                                             dtype=self.dtype_policy, name="to_latents")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "CodeMapEncoder expects int code maps (batch, height, width) with "
                f"known height and width, got shape {input_shape}")
        h, w = input_shape[1], input_shape[2]
        self.code_embedding.build((None, h, w))
        self.conv_in.build((None, h, w, self.filters))
        for layer in self.downsamples:
            layer.build((None, h, w, self.filters))
            h, w = -(-h // 2), -(-w // 2)
        self.hidden.build((None, h * w * self.filters))
        self.to_latents.build((None, self.hidden_units))
        self.built = True

    def call(self, codes):
        x = self.conv_in(self.code_embedding(ops.cast(codes, "int32")))
        for layer in self.downsamples:
            x = layer(x)
        x = ops.reshape(x, (ops.shape(x)[0], -1))
        z = self.to_latents(self.hidden(x))
        return ops.reshape(z, (ops.shape(z)[0], self.num_latents, self.embedding_dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_latents, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(num_embeddings=self.num_embeddings, num_latents=self.num_latents,
                      embedding_dim=self.embedding_dim, filters=self.filters,
                      num_downsamples=self.num_downsamples,
                      hidden_units=self.hidden_units)
        return config


__all__ = ["CodeMapEncoder"]
