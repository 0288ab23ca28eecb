"""The residual blocks of the VQ-VAE encoder and decoder."""

import keras


@keras.saving.register_keras_serializable(package="vq_zoo")
class ResidualStack(keras.layers.Layer):
    """`num_residual_layers` blocks of `x + conv1x1(relu(conv3x3(relu(x))))`,
    followed by a ReLU, as in the VQ-VAE paper (section 4.1) and Sonnet's
    example. Works for 1D, 2D and 3D feature maps (channels last).

    Shape contract: `(batch, *spatial, num_hiddens)` to the same shape.

    Args:
        num_hiddens: int, channels of the input and output.
        num_residual_layers: int >= 0, number of blocks.
        num_residual_hiddens: int, channels inside each block.
        rank: 1, 2 or 3, spatial rank of the convolutions.
        **kwargs: base layer arguments.

    Example:
    >>> stack = ResidualStack(num_hiddens=16, num_residual_layers=2,
    ...                       num_residual_hiddens=8)
    >>> tuple(stack(keras.ops.zeros((1, 8, 8, 16))).shape)
    (1, 8, 8, 16)
    """

    def __init__(
        self,
        num_hiddens,
        num_residual_layers,
        num_residual_hiddens,
        rank=2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in [
            ("num_hiddens", num_hiddens),
            ("num_residual_hiddens", num_residual_hiddens),
        ]:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
        if not isinstance(num_residual_layers, int) or num_residual_layers < 0:
            raise ValueError(
                "`num_residual_layers` must be an integer >= 0, got "
                f"{num_residual_layers!r}"
            )
        if rank not in (1, 2, 3):
            raise ValueError(f"`rank` must be 1, 2 or 3, got {rank!r}")
        self.num_hiddens = num_hiddens
        self.num_residual_layers = num_residual_layers
        self.num_residual_hiddens = num_residual_hiddens
        self.rank = rank
        conv = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank]
        self.blocks = [
            (
                conv(num_residual_hiddens, 3, padding="same", dtype=self.dtype_policy,
                     name=f"res{i}_conv3"),
                conv(num_hiddens, 1, padding="same", dtype=self.dtype_policy,
                     name=f"res{i}_conv1"),
            )
            for i in range(num_residual_layers)
        ]

    def build(self, input_shape):
        if input_shape[-1] != self.num_hiddens:
            raise ValueError(
                f"ResidualStack expects {self.num_hiddens} input channels "
                f"(`num_hiddens`), got shape {tuple(input_shape)}"
            )
        mid = tuple(input_shape[:-1]) + (self.num_residual_hiddens,)
        for conv3, conv1 in self.blocks:
            conv3.build(input_shape)
            conv1.build(mid)

    def call(self, x):
        for conv3, conv1 in self.blocks:
            h = conv3(keras.activations.relu(x))
            x = x + conv1(keras.activations.relu(h))
        return keras.activations.relu(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_hiddens": self.num_hiddens,
                "num_residual_layers": self.num_residual_layers,
                "num_residual_hiddens": self.num_residual_hiddens,
                "rank": self.rank,
            }
        )
        return config
