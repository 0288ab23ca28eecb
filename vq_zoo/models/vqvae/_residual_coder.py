"""The part the VQ-VAE image encoder and decoder share: a 3x3 convolution to
`num_hiddens` channels followed by a residual stack."""

import keras

from vq_zoo.layers.layer_chain import LayerChain
from vq_zoo.layers.residual_stack import ResidualStack
from vq_zoo.layers.residual_stack import check_residual_arguments
from vq_zoo.layers.residual_stack import residual_config
from vq_zoo.utils.checks import check_integer


class ResidualCoder(LayerChain):
    """Base of `VQVAEImageEncoder` and `VQVAEImageDecoder`: checks and stores
    the residual stack's sizes (then the subclass's own integer arguments),
    makes the `conv` (3x3 to `num_hiddens`) and `residual_stack` sub-layers
    when the subclass calls `_make_residual_trunk()` (the encoder after its
    downsampling convolutions, the decoder first: the order of the saved
    variables), and writes the sizes into the config.

    Args:
        num_hiddens, num_residual_layers, num_residual_hiddens: as in
            `ResidualStack`.
        integer_arguments: `(name, value, minimum)` triples of the
            subclass's integer arguments, checked with `check_integer` after
            the residual sizes.
        **kwargs: base layer arguments.
    """

    def __init__(
        self,
        num_hiddens,
        num_residual_layers,
        num_residual_hiddens,
        integer_arguments=(),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_residual_arguments(num_hiddens, num_residual_layers, num_residual_hiddens)
        for name, value, minimum in integer_arguments:
            check_integer(name, value, minimum)
        self.num_hiddens = num_hiddens
        self.num_residual_layers = num_residual_layers
        self.num_residual_hiddens = num_residual_hiddens

    def _make_residual_trunk(self):
        policy = self.dtype_policy
        self.conv = keras.layers.Conv2D(
            self.num_hiddens, 3, padding="same", dtype=policy, name="conv"
        )
        self.residual_stack = ResidualStack(
            self.num_hiddens, self.num_residual_layers, self.num_residual_hiddens,
            dtype=policy, name="residual_stack",
        )

    def get_config(self):
        config = super().get_config()
        config.update(residual_config(self))
        return config
