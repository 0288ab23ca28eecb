"""The VQ-VAE image encoder of the paper (section 4.1)."""

import keras

from vq_zoo.models.vqvae._residual_coder import ResidualCoder


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAEImageEncoder(ResidualCoder):
    """Strided 4x4 convolutions, a 3x3 convolution, a residual stack and a
    1x1 projection to `embedding_dim`, as in the VQ-VAE paper and Sonnet's
    example.

    Each of the `num_downsamples` strided convolutions halves height and
    width (128x128 -> 32x32 with 2; 84x84 -> 21x21 with 2).

    Shape contract: `(batch, H, W, C)` to
    `(batch, H / 2**num_downsamples, W / 2**num_downsamples, embedding_dim)`.

    Args:
        num_hiddens: int, channels of the main path (paper: 128 or 256).
        num_residual_layers: int, residual blocks (paper: 2).
        num_residual_hiddens: int, channels inside a block (paper: 32).
        embedding_dim: int, channels of the output (the quantiser's `D`).
        num_downsamples: int >= 1, number of stride-2 convolutions.
        **kwargs: base layer arguments.

    Example:
    >>> enc = VQVAEImageEncoder(32, 1, 8, embedding_dim=16)
    >>> tuple(enc(keras.ops.zeros((1, 32, 32, 3))).shape)
    (1, 8, 8, 16)
    """

    def __init__(
        self,
        num_hiddens=128,
        num_residual_layers=2,
        num_residual_hiddens=32,
        embedding_dim=64,
        num_downsamples=2,
        **kwargs,
    ):
        super().__init__(
            num_hiddens, num_residual_layers, num_residual_hiddens,
            integer_arguments=[
                ("embedding_dim", embedding_dim, 1),
                ("num_downsamples", num_downsamples, 1),
            ],
            **kwargs,
        )
        self.embedding_dim = embedding_dim
        self.num_downsamples = num_downsamples
        policy = self.dtype_policy
        self.downsample = [
            keras.layers.Conv2D(
                num_hiddens if i == num_downsamples - 1 else num_hiddens // 2,
                4,
                strides=2,
                padding="same",
                activation="relu",
                dtype=policy,
                name=f"down{i}",
            )
            for i in range(num_downsamples)
        ]
        self._make_residual_trunk()
        self.pre_quantization = keras.layers.Conv2D(
            embedding_dim, 1, dtype=policy, name="pre_quantization"
        )

    def chain(self):
        return self.downsample + [
            self.conv, self.residual_stack, self.pre_quantization
        ]

    def check_input_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "VQVAEImageEncoder expects images of shape (batch, height, "
                f"width, channels), got {tuple(input_shape)}"
            )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "num_downsamples": self.num_downsamples,
            }
        )
        return config
