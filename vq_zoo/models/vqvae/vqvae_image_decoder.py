"""The VQ-VAE image decoder of the paper (section 4.1)."""

import keras

from vq_zoo.models.vqvae._residual_coder import ResidualCoder


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAEImageDecoder(ResidualCoder):
    """A 3x3 convolution, a residual stack and strided 4x4 transposed
    convolutions back to image resolution, as in the VQ-VAE paper.

    Shape contract: `(batch, h, w, embedding_dim)` to
    `(batch, h * 2**num_upsamples, w * 2**num_upsamples, output_channels)`.
    The output is the likelihood's parameters (the image itself for MSE).

    Args:
        num_hiddens: int, channels of the main path.
        num_residual_layers: int, residual blocks.
        num_residual_hiddens: int, channels inside a block.
        output_channels: int, channels of the output.
        num_upsamples: int >= 1, number of stride-2 transposed convolutions.
        **kwargs: base layer arguments.

    Example:
    >>> dec = VQVAEImageDecoder(32, 1, 8, output_channels=3)
    >>> tuple(dec(keras.ops.zeros((1, 8, 8, 16))).shape)
    (1, 32, 32, 3)
    """

    def __init__(
        self,
        num_hiddens=128,
        num_residual_layers=2,
        num_residual_hiddens=32,
        output_channels=3,
        num_upsamples=2,
        **kwargs,
    ):
        super().__init__(
            num_hiddens, num_residual_layers, num_residual_hiddens,
            integer_arguments=[
                ("output_channels", output_channels, 1),
                ("num_upsamples", num_upsamples, 1),
            ],
            **kwargs,
        )
        self.output_channels = output_channels
        self.num_upsamples = num_upsamples
        policy = self.dtype_policy
        self._make_residual_trunk()
        last = num_upsamples - 1
        self.upsample = [
            keras.layers.Conv2DTranspose(
                output_channels if i == last else num_hiddens // 2,
                4,
                strides=2,
                padding="same",
                activation=None if i == last else "relu",
                # The output feeds a loss: keep it in float32 under mixed
                # precision.
                dtype="float32" if i == last else policy,
                name=f"up{i}",
            )
            for i in range(num_upsamples)
        ]

    def chain(self):
        return [self.conv, self.residual_stack] + self.upsample

    def check_input_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "VQVAEImageDecoder expects code maps of shape (batch, height, "
                f"width, embedding_dim), got {tuple(input_shape)}"
            )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_channels": self.output_channels,
                "num_upsamples": self.num_upsamples,
            }
        )
        return config
