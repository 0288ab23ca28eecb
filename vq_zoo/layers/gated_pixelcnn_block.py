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


def _term_at(term, index, axis):
    """`term` at `index` along `axis`, or its only entry there (a global
    term is broadcast over the grid: size 1 on the grid axes)."""
    if term.shape[axis] == 1:
        index = 0
    return ops.take(term, index, axis=axis)


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

    Incremental use (a sampler's): `state = block.initial_state(batch,
    width, condition, spatial_condition)`; at the start of each row `r > 0`,
    `v_out_row, state = block.step_row(v_row, state, r - 1)` pushes the
    finished row through the vertical stack (a rolling window of
    `kernel_size // 2 + 1` rows); then `(h_out, skip), state =
    block.step(h_in, state, index)` at each position, which equals `call`'s
    outputs there.

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
        from vq_zoo.utils.checks import check_int
        check_int("filters", filters)
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

    # ---------------------------------------------------------- stepping
    def initial_state(
        self, batch_size, width, condition=None, spatial_condition=None, dtype=None
    ):
        """The block's cache before the first position of a map.

        Args:
            batch_size: int or scalar tensor.
            width: int, width of the maps.
            condition: `(batch, condition_dim)` or None.
            spatial_condition: `(batch, height, width, spatial_condition_dim)`
                or None.
            dtype: dtype of the buffers. Defaults to the compute dtype.

        Returns:
            A dict of tensors: `"window"`, the last `kernel_size // 2 + 1`
            rows of the vertical stack's input (zero-padded left and right);
            `"row"`, the horizontal stack's inputs on the current row (left
            padded); `"link"`, the vertical stack's contribution to the
            current row's horizontal pre-activations; and, with conditioning,
            `"v_term"` and `"h_term"`, computed here once.
        """
        if not self.built:
            raise ValueError(
                "GatedPixelCNNBlock.initial_state needs a built block: call it "
                "on an input first."
            )
        dtype = dtype or self.compute_dtype
        pad = self.kernel_size // 2
        channels = self.vertical_conv.kernel.shape[2]
        state = {
            "window": ops.zeros(
                (batch_size, pad + 1, width + 2 * pad, channels), dtype
            ),
            "row": ops.zeros((batch_size, width + pad, channels), dtype),
            # Row 0 sees no row above: the shifted-down vertical stack is 0.
            "link": ops.broadcast_to(
                ops.cast(self.vertical_to_horizontal.bias, dtype),
                (batch_size, width, 2 * self.filters),
            ),
        }
        v_term, h_term = self.condition_terms(condition, spatial_condition)
        if self.vertical_output and ops.is_tensor(v_term):
            state["v_term"] = ops.cast(v_term, dtype)
        if ops.is_tensor(h_term):
            state["h_term"] = ops.cast(h_term, dtype)
        return state

    def step_row(self, v_row, state, row):
        """Advances the vertical stack by one complete row.

        Args:
            v_row: `(batch, width, channels)`, the vertical stack's input on
                row `row` (the codes' embeddings for the first block, the
                previous block's `v_out` row otherwise).
            state: the block's cache.
            row: int scalar, the index of `v_row`.

        Returns:
            `(v_out_row, state)`: the vertical output on `row` (None when
            `vertical_output=False`) and the cache, whose `"link"` now serves
            the horizontal steps of row `row + 1`.
        """
        pad = self.kernel_size // 2
        dtype = state["window"].dtype
        v_row = ops.cast(v_row, dtype)
        padded = ops.pad(v_row, [[0, 0], [pad, pad], [0, 0]])[:, None]
        window = ops.concatenate([state["window"][:, 1:], padded], axis=1)
        # Rows below the centre are masked: only the top pad + 1 rows count.
        kernel = ops.cast(self.vertical_conv.masked_kernel()[: pad + 1], dtype)
        v_pre = ops.conv(window, kernel, padding="valid")[:, 0]
        v_pre = v_pre + ops.cast(self.vertical_conv.bias, dtype)
        state = dict(state, window=window, link=self.vertical_to_horizontal(v_pre))
        v_out = None
        if self.vertical_output:
            if "v_term" in state:
                v_pre = v_pre + _term_at(state["v_term"], row, axis=1)
            v_out = gate(v_pre)
        return v_out, state

    def step(self, inputs, state, index):
        """The horizontal stack at one position, in raster order.

        Args:
            inputs: `(batch, channels)`. A type `"B"` block takes its input
                at position `index`; a type `"A"` block, whose output never
                sees its own position, takes the input at the position before
                (`index - 1`, the code just drawn; ignored at a row's start).
            state: the block's cache, whose `"link"` is that of the current
                row (see `step_row`).
            index: int scalar, the flat raster position `row * width + col`.

        Returns:
            `((h_out, skip), state)`, each output `(batch, filters)`: the
            full `call`'s `h_out` and `skip` at `index`.
        """
        pad = self.kernel_size // 2
        buffer = state["row"]
        dtype = buffer.dtype
        width = buffer.shape[1] - pad
        row, col = index // width, index % width
        inputs = ops.cast(inputs, dtype)
        kernel = ops.cast(self.horizontal_conv.masked_kernel()[0], dtype)
        if self.mask_type == "A":
            # The input at col - 1 enters the buffer (at a row's start it is
            # the previous row's last input: parked on col 0, never read).
            slot = pad + ops.maximum(col - 1, 0)
            buffer = ops.slice_update(buffer, (0, slot, 0), inputs[:, None])
            taps, kernel = pad, kernel[:pad]
        else:
            buffer = ops.slice_update(buffer, (0, col + pad, 0), inputs[:, None])
            taps, kernel = pad + 1, kernel[: pad + 1]
        pre = ops.cast(self.horizontal_conv.bias, dtype) + ops.take(
            state["link"], col, axis=1
        )
        if taps:
            batch = buffer.shape[0] or ops.shape(buffer)[0]
            window = ops.slice(buffer, (0, col, 0), (batch, taps, buffer.shape[-1]))
            pre = pre + ops.einsum("bkc,kco->bo", window, kernel)
        if "h_term" in state:
            pre = pre + _term_at(_term_at(state["h_term"], row, axis=1), col, axis=1)
        gated = gate(pre)
        # One product for the two 1x1 outputs: a step is latency-bound.
        kernel = ops.concatenate(
            [self.horizontal_output.kernel, self.skip_output.kernel], axis=1
        )
        bias = ops.concatenate([self.horizontal_output.bias, self.skip_output.bias])
        both = ops.matmul(gated, ops.cast(kernel, dtype)) + ops.cast(bias, dtype)
        out, skip = ops.split(both, 2, axis=-1)
        if self.mask_type == "B":
            out = out + inputs
        return (out, skip), dict(state, row=buffer)

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
