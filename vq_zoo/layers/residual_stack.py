"""The residual blocks of the VQ-VAE encoder and decoder."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_integer


def check_residual_arguments(num_hiddens, num_residual_layers, num_residual_hiddens):
    """Checks the three sizes of a residual stack (`num_hiddens >= 1`,
    `num_residual_layers >= 0`, `num_residual_hiddens >= 1`) with
    `check_integer`, in that order."""
    check_integer("num_hiddens", num_hiddens, 1)
    check_integer("num_residual_layers", num_residual_layers, 0)
    check_integer("num_residual_hiddens", num_residual_hiddens, 1)


def residual_config(layer):
    """`layer`'s residual stack sizes, as config entries (the same keys in
    `ResidualStack` and the VQ-VAE encoder and decoder that hold one)."""
    return {
        "num_hiddens": layer.num_hiddens,
        "num_residual_layers": layer.num_residual_layers,
        "num_residual_hiddens": layer.num_residual_hiddens,
    }


@ops.custom_gradient
def _stream_relu(x):
    """`relu(x)` for a residual stream `x` that also feeds the next residual
    sum: `maximum(x, 0)` forward (bit for bit `relu`, NaN and -0.0 included)
    and ReLU's own gradient, `upstream * (x > 0)` (TensorFlow's `ReluGrad`
    kernel on that backend: one pass, as for `relu`).

    Why not `relu`: on oneDNN CPUs TensorFlow's grappler remapper fuses
    `Conv2D + BiasAdd + AddV2 + Relu` into one `_FusedConv2D` even when the
    `AddV2` has a second consumer (the next block's sum), deletes the `AddV2`,
    and then fails the whole pass ("remapper failed: ... fanout ... exist for
    missing node '.../add'"), so no convolution of the graph gets its bias and
    activation fused. A `Maximum` is not an activation the remapper matches;
    the sums are still fused into their 1x1 convolutions."""

    def grad(*args, upstream=None):
        (g,) = args if upstream is None else (upstream,)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return tf.raw_ops.ReluGrad(gradients=g, features=x)
        return g * ops.cast(ops.greater(x, 0), g.dtype)

    return ops.maximum(x, ops.zeros((), x.dtype)), grad


@keras.saving.register_keras_serializable(package="vq_zoo")
class ResidualStack(keras.layers.Layer):
    """`num_residual_layers` blocks of `x + conv1x1(relu(conv3x3(relu(x))))`,
    followed by a ReLU, as in the VQ-VAE paper (section 4.1) and Sonnet's
    example. Works for 1D, 2D and 3D feature maps (channels last).

    The ReLUs of the residual stream (each block's input) are computed as
    `maximum(x, 0)` with ReLU's gradient, the same function bit for bit, so
    that TensorFlow's remapper can fuse every convolution with its bias,
    ReLU and residual sum (see `_stream_relu`).

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
        check_residual_arguments(num_hiddens, num_residual_layers, num_residual_hiddens)
        if isinstance(rank, bool) or rank not in (1, 2, 3):
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
            h = conv3(_stream_relu(x))
            x = x + conv1(keras.activations.relu(h))
        if not self.blocks:
            # The input may have other consumers (see `_stream_relu`).
            return _stream_relu(x)
        # The last sum has no other consumer: its ReLU may fuse.
        return keras.activations.relu(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({**residual_config(self), "rank": self.rank})
        return config
