"""The VQ-VAE image decoder of the paper (section 4.1)."""

import keras

from vq_zoo.layers.layer_chain import LayerChain
from vq_zoo.layers.residual_stack import ResidualStack
from vq_zoo.layers.residual_stack import check_integer


@keras.saving.register_keras_serializable(package="vq_zoo")
class VQVAEImageDecoder(LayerChain):
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
        super().__init__(**kwargs)
        for name, value, minimum in [
            ("num_hiddens", num_hiddens, 1),
            ("num_residual_layers", num_residual_layers, 0),
            ("num_residual_hiddens", num_residual_hiddens, 1),
            ("output_channels", output_channels, 1),
            ("num_upsamples", num_upsamples, 1),
        ]:
            check_integer(name, value, minimum)
        self.num_hiddens = num_hiddens
        self.num_residual_layers = num_residual_layers
        self.num_residual_hiddens = num_residual_hiddens
        self.output_channels = output_channels
        self.num_upsamples = num_upsamples
        policy = self.dtype_policy
        self.conv = keras.layers.Conv2D(
            num_hiddens, 3, padding="same", dtype=policy, name="conv"
        )
        self.residual_stack = ResidualStack(
            num_hiddens, num_residual_layers, num_residual_hiddens,
            dtype=policy, name="residual_stack",
        )
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
                "num_hiddens": self.num_hiddens,
                "num_residual_layers": self.num_residual_layers,
                "num_residual_hiddens": self.num_residual_hiddens,
                "output_channels": self.output_channels,
                "num_upsamples": self.num_upsamples,
            }
        )
        return config
