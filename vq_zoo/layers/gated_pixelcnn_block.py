"""The gated PixelCNN block: vertical and horizontal stacks, no blind spot."""

import keras
from keras import ops

from vq_zoo.layers.masked_conv2d import MaskedConv2D


def gate(x):
    """`tanh(a) * sigmoid(b)` over the two halves of the last axis."""
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


def shift_down(x):
    """Moves a `(batch, height, width, channels)` map down by one row."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="vq_zoo")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated PixelCNN layer with a vertical and a horizontal stack.

    The vertical stack sees every row up to the current one through a
    `"vertical"`-masked `k x k` convolution; shifted down by one row, its
    pre-activations reach the horizontal stack through a 1x1 convolution, so
    the horizontal stack at `(i, j)` sees all rows above (left and right of
    `j`, so there is no blind spot) and, through a `(1, k)` convolution, the
    current row left of `j` (type `"A"`) or up to `j` (type `"B"`). Each stack
    is gated, `tanh(W_f * x + V_f c) * sigmoid(W_g * x + V_g c)`, where `c` is
    an optional global vector (class, speaker, action) added at every
    position and an optional spatial map (e.g. the upper level's codes in
    VQ-VAE-2) added through a 1x1 convolution. The horizontal stack has a
    residual connection (type `"B"` only: in a type `"A"` block it would leak
    the current position) and a skip output.

    Shape contract: `call(v, h, condition=None, spatial_condition=None)` with
    `v` and `h` of shape `(batch, height, width, channels)`, `condition` of
    shape `(batch, condition_dim)` and `spatial_condition` of shape
    `(batch, height, width, spatial_condition_dim)` returns
    `(v_out, h_out, skip)`, each `(batch, height, width, filters)` (`v_out`
    is None when `vertical_output=False`).

    Args:
        filters: int, channels of each stack's output (the gates use
            `2 * filters` pre-activations).
        kernel_size: odd int, size `k` of the vertical `k x k` and horizontal
            `1 x k` convolutions. Defaults to 3.
        mask_type: `"A"` (first layer: the input is the current code's
            embedding) or `"B"`. Defaults to `"B"`.
        condition_dim: int or None, size of the global condition vector.
        spatial_condition_dim: int or None, channels of the spatial condition.
        vertical_output: bool. False for the last block of a stack, whose
            vertical output nobody reads: the block then has no vertical
            conditioning weights and returns None for `v_out`. Defaults to
            True.
        **kwargs: base layer arguments.

    Example:
    >>> block = GatedPixelCNNBlock(filters=8, mask_type="A")
    >>> x = keras.ops.zeros((2, 6, 6, 4))
    >>> v, h, skip = block(x, x)
    >>> tuple(h.shape)
    (2, 6, 6, 8)

    References:
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        condition_dim=None,
        spatial_condition_dim=None,
        vertical_output=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be an integer >= 1, got {filters!r}")
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be an odd int >= 1, got {kernel_size!r}")
        if mask_type not in ("A", "B"):
            raise ValueError(f"`mask_type` must be 'A' or 'B', got {mask_type!r}")
        for name, value in [
            ("condition_dim", condition_dim),
            ("spatial_condition_dim", spatial_condition_dim),
        ]:
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"`{name}` must be None or an integer >= 1, got {value!r}"
                )
        self.filters = filters
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.condition_dim = condition_dim
        self.spatial_condition_dim = spatial_condition_dim
        self.vertical_output = bool(vertical_output)

        def dense(units, name, use_bias=True):
            return keras.layers.Dense(
                units, use_bias=use_bias, dtype=self.dtype_policy, name=name
            )

        self.vertical_conv = MaskedConv2D(
            2 * filters, kernel_size, "vertical", dtype=self.dtype_policy,
            name="vertical_conv",
        )
        self.horizontal_conv = MaskedConv2D(
            2 * filters, (1, kernel_size), mask_type, dtype=self.dtype_policy,
            name="horizontal_conv",
        )
        self.vertical_to_horizontal = dense(2 * filters, "vertical_to_horizontal")
        self.horizontal_output = dense(filters, "horizontal_output")
        self.skip_output = dense(filters, "skip_output")
        self.vertical_condition = self.horizontal_condition = None
        if condition_dim is not None:
            if self.vertical_output:
                self.vertical_condition = dense(2 * filters, "vertical_condition", False)
            self.horizontal_condition = dense(2 * filters, "horizontal_condition", False)
        self.vertical_spatial = self.horizontal_spatial = None
        if spatial_condition_dim is not None:
            if self.vertical_output:
                self.vertical_spatial = dense(2 * filters, "vertical_spatial", False)
            self.horizontal_spatial = dense(2 * filters, "horizontal_spatial", False)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "GatedPixelCNNBlock expects (batch, height, width, channels) "
                f"inputs with known channels, got {input_shape}"
            )
        if self.mask_type == "B" and input_shape[-1] != self.filters:
            raise ValueError(
                f"A type 'B' GatedPixelCNNBlock has a residual connection and "
                f"expects {self.filters} input channels (`filters`), got "
                f"shape {input_shape}"
            )
        wide = input_shape[:-1] + (2 * self.filters,)
        self.vertical_conv.build(input_shape)
        self.horizontal_conv.build(input_shape)
        self.vertical_to_horizontal.build(wide)
        self.horizontal_output.build(input_shape[:-1] + (self.filters,))
        self.skip_output.build(input_shape[:-1] + (self.filters,))
        if self.condition_dim is not None:
            self.horizontal_condition.build((None, self.condition_dim))
            if self.vertical_output:
                self.vertical_condition.build((None, self.condition_dim))
        if self.spatial_condition_dim is not None:
            shape = input_shape[:-1] + (self.spatial_condition_dim,)
            self.horizontal_spatial.build(shape)
            if self.vertical_output:
                self.vertical_spatial.build(shape)

    def condition_terms(self, condition=None, spatial_condition=None):
        """The conditioning added to the vertical and horizontal
        pre-activations: two tensors broadcastable to
        `(batch, height, width, 2 * filters)`, or `(0, 0)` without
        conditioning. They do not depend on the codes, so a sampler computes
        them once."""
        v_term = h_term = 0.0
        if self.condition_dim is not None:
            if condition is None:
                raise ValueError(
                    "This block was built with `condition_dim`="
                    f"{self.condition_dim}; pass `condition`."
                )
            if self.vertical_output:
                v_term = self.vertical_condition(condition)[:, None, None, :]
            h_term = self.horizontal_condition(condition)[:, None, None, :]
        if self.spatial_condition_dim is not None:
            if spatial_condition is None:
                raise ValueError(
                    "This block was built with `spatial_condition_dim`="
                    f"{self.spatial_condition_dim}; pass `spatial_condition`."
                )
            if self.vertical_output:
                v_term = v_term + self.vertical_spatial(spatial_condition)
            h_term = h_term + self.horizontal_spatial(spatial_condition)
        return v_term, h_term

    def call(self, v, h, condition=None, spatial_condition=None):
        v_term, h_term = self.condition_terms(condition, spatial_condition)
        v_pre = self.vertical_conv(v)
        h_pre = self.horizontal_conv(h) + self.vertical_to_horizontal(
            shift_down(v_pre)
        )
        v_out = gate(v_pre + v_term) if self.vertical_output else None
        h_gated = gate(h_pre + h_term)
        skip = self.skip_output(h_gated)
        h_out = self.horizontal_output(h_gated)
        if self.mask_type == "B":
            h_out = h_out + h
        return v_out, h_out, skip

    def compute_output_shape(self, v_shape, h_shape=None, *args, **kwargs):
        shape = tuple(v_shape[:-1]) + (self.filters,)
        return shape, shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "condition_dim": self.condition_dim,
                "spatial_condition_dim": self.spatial_condition_dim,
                "vertical_output": self.vertical_output,
            }
        )
        return config


__all__ = ["GatedPixelCNNBlock"]
