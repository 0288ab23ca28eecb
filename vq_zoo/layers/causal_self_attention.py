"""Causal multi-head self-attention with a key/value cache for stepping."""

import keras
import numpy as np
from keras import ops

from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention in which each position sees itself and the
    positions before it.

    Over a sequence `(batch, time, channels)`, or over a 2D map
    `(batch, height, width, channels)` read in raster order (the order of a
    PixelCNN). Queries, keys and values are `num_heads` projections of
    `key_dim` (values: `value_dim`) channels; the heads' outputs are
    projected back to `output_dim` channels (default: the input's), so the
    layer drops into a residual stream, `x + attention(x)`. Position `t`
    attends to positions `<= t`: a model that feeds it a stream which is
    already strictly causal (e.g. the horizontal stack of a gated PixelCNN
    after its type-A layer) stays strictly causal.

    Incremental use (one position at a time, as a sampler does):
    `state = layer.initial_state(batch, max_length)`, then
    `out_t, state = layer.step(x_t, state, t)` for `t = 0, 1, ...`. The
    cache holds every position's keys and values, preallocated to
    `max_length` and written at `t` with `ops.slice_update`, so a step costs
    one attention row, `O(max_length)`, instead of a pass over the whole
    sequence, and gives the full `call`'s output at `t`.

    Shape contract: `(batch, time, channels)` or `(batch, height, width,
    channels)` to the same shape with `output_dim` channels; `step`: `(batch,
    channels)` to `(batch, output_dim)`.

    Args:
        num_heads: int >= 1, number of attention heads.
        key_dim: int >= 1, channels of each head's queries and keys.
        value_dim: int or None, channels of each head's values. Defaults to
            `key_dim`.
        output_dim: int or None, output channels. Defaults to the input's.
        dropout: float in `[0, 1)`, dropout rate on the attention
            probabilities (training only). Defaults to 0.
        use_bias: bool, biases in the projections. Defaults to True.
        **kwargs: base layer arguments.

    Example:
    >>> attention = CausalSelfAttention(num_heads=2, key_dim=4)
    >>> x = keras.random.normal((2, 5, 8))
    >>> tuple(attention(x).shape)
    (2, 5, 8)
    >>> state = attention.initial_state(2, max_length=5)
    >>> out, state = attention.step(x[:, 0], state, 0)
    >>> tuple(out.shape)
    (2, 8)

    References:
        Vaswani et al. Attention Is All You Need. arXiv:1706.03762.
        Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity
        Images with VQ-VAE-2. arXiv:1906.00446.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value, optional in [
            ("num_heads", num_heads, False),
            ("key_dim", key_dim, False),
            ("value_dim", value_dim, True),
            ("output_dim", output_dim, True),
        ]:
            if optional and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"`{name}` must be {'None or ' if optional else ''}an integer "
                    f">= 1, got {value!r}"
                )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.output_dim = output_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        values = value_dim or key_dim

        def dense(units, name):
            return keras.layers.Dense(
                units, use_bias=self.use_bias, dtype=self.dtype_policy, name=name
            )

        self.query_dense = dense(num_heads * key_dim, "query")
        self.key_dense = dense(num_heads * key_dim, "key")
        self.value_dense = dense(num_heads * values, "value")
        self.output_dense = None  # its width is the input's unless given
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) not in (3, 4) or input_shape[-1] is None:
            raise ValueError(
                "CausalSelfAttention expects (batch, time, channels) or "
                "(batch, height, width, channels) inputs with known channels, "
                f"got shape {input_shape}"
            )
        channels = input_shape[-1]
        flat = (None, None, channels)
        self.query_dense.build(flat)
        self.key_dense.build(flat)
        self.value_dense.build(flat)
        self.output_dense = keras.layers.Dense(
            self.output_dim or channels,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.output_dense.build((None, None, self.num_heads * (self.value_dim or self.key_dim)))

    def _heads(self, layer, x, dim):
        """`(batch, ..., channels)` to `(batch, ..., num_heads, dim)`."""
        y = layer(x)
        return ops.reshape(y, tuple(ops.shape(y)[:-1]) + (self.num_heads, dim))

    def _attend(self, query, keys, values, mask, training=None):
        """Softmax attention of `query` `(batch, q, heads, key_dim)` over
        `keys`/`values` `(batch, k, heads, dim)` where `mask` `(q, k)` is
        True; logits and softmax in float32."""
        scale = 1.0 / float(np.sqrt(self.key_dim))
        logits = ops.einsum("bqhd,bkhd->bhqk", query, keys)
        logits = ops.cast(logits, "float32") * scale
        logits = ops.where(mask, logits, ops.convert_to_tensor(-1e9, "float32"))
        probs = ops.softmax(logits, axis=-1)
        probs = self.dropout_layer(ops.cast(probs, values.dtype), training=training)
        return ops.einsum("bhqk,bkhd->bqhd", probs, values)

    def _merge(self, heads):
        shape = tuple(ops.shape(heads)[:-2]) + (heads.shape[-2] * heads.shape[-1],)
        return self.output_dense(ops.reshape(heads, shape))

    def call(self, inputs, training=None):
        if len(inputs.shape) not in (3, 4):
            raise ValueError(
                "CausalSelfAttention expects (batch, time, channels) or "
                "(batch, height, width, channels) inputs, got shape "
                f"{tuple(inputs.shape)}"
            )
        grid = None
        x = inputs
        if len(inputs.shape) == 4:
            grid = tuple(ops.shape(inputs)[1:3])
            x = ops.reshape(inputs, (ops.shape(inputs)[0], -1, inputs.shape[-1]))
        length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
        values_dim = self.value_dim or self.key_dim
        query = self._heads(self.query_dense, x, self.key_dim)
        keys = self._heads(self.key_dense, x, self.key_dim)
        values = self._heads(self.value_dense, x, values_dim)
        positions = ops.arange(length)
        mask = positions[None, :] <= positions[:, None]
        out = self._merge(self._attend(query, keys, values, mask, training))
        if grid is not None:
            out = ops.reshape(out, (ops.shape(inputs)[0],) + grid + (out.shape[-1],))
        return out

    # ---------------------------------------------------------- stepping
    def initial_state(self, batch_size, max_length, dtype=None):
        """An empty key/value cache for up to `max_length` positions.

        Returns:
            A dict with `"key"` `(batch, max_length, num_heads, key_dim)` and
            `"value"` `(batch, max_length, num_heads, value_dim)`, zeros.
        """
        check_int("max_length", max_length)
        dtype = dtype or self.compute_dtype
        values = self.value_dim or self.key_dim
        return {
            "key": ops.zeros((batch_size, max_length, self.num_heads, self.key_dim), dtype),
            "value": ops.zeros((batch_size, max_length, self.num_heads, values), dtype),
        }

    def step(self, inputs, state, index):
        """The output at position `index` from its input and the cache.

        Args:
            inputs: `(batch, channels)`, the input at `index` (positions in
                raster order for 2D maps).
            state: the cache (`initial_state`, then each step's).
            index: int scalar, the position, `0 <= index < max_length`.

        Returns:
            `(outputs, state)`: `(batch, output_dim)`, equal to `call`'s
            output at `index`; the cache with this position's key and value.
        """
        if len(inputs.shape) != 2:
            raise ValueError(
                "CausalSelfAttention.step expects one position, (batch, "
                f"channels), got shape {tuple(inputs.shape)}"
            )
        if not self.built:
            # Stepped before any call: built here as `call` would be, so the
            # output projection exists and a later `call` uses these weights.
            self.build((None, None, inputs.shape[-1]))
            self.built = True
        keys, values = state["key"], state["value"]
        x = ops.cast(inputs, self.compute_dtype)[:, None]
        query = self._heads(self.query_dense, x, self.key_dim)
        new_key = ops.cast(self._heads(self.key_dense, x, self.key_dim), keys.dtype)
        new_value = ops.cast(
            self._heads(self.value_dense, x, values.shape[-1]), values.dtype
        )
        keys = ops.slice_update(keys, (0, index, 0, 0), new_key)
        values = ops.slice_update(values, (0, index, 0, 0), new_value)
        mask = (ops.arange(keys.shape[1]) <= index)[None, :]
        out = self._merge(self._attend(query, keys, values, mask, training=False))
        return out[:, 0], {"key": keys, "value": values}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
            }
        )
        return config


__all__ = ["CausalSelfAttention"]
