"""Gated PixelCNN prior over 2D maps of VQ-VAE codes."""

import keras
from keras import ops

from vq_zoo.layers.causal_self_attention import CausalSelfAttention
from vq_zoo.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from vq_zoo.layers.residual_stack import ResidualStack
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import AutoregressivePrior
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import resolve_output_filters
from vq_zoo.utils.checks import check_int


@keras.saving.register_keras_serializable(package="vq_zoo")
class GatedPixelCNNPrior(AutoregressivePrior):
    """Gated PixelCNN over `(height, width)` maps of `num_embeddings` codes.

    Codes are embedded, passed through a type-A `GatedPixelCNNBlock` and
    `num_layers - 1` type-B blocks; the sum of the blocks' skip outputs goes
    through `relu -> 1x1 -> relu -> 1x1` to `num_embeddings` logits per
    position (the last block's horizontal output is added to the sum),
    modelling `p(z_ij | z_<ij, c)` in raster order. `fit` takes int
    code maps (or dicts with conditions) and minimises the K-way
    cross-entropy; it logs `loss` and `nats_per_code` (the same number, the
    mean negative log-likelihood per code in nats) and `bits_per_code`. Under
    `tf.distribute` each replica's loss is scaled to the global batch.

    Two samplers draw the same codes for the same seed. `sample` is the fast
    one: `vq_zoo.generation.sample_with_cache` drives the prior's `step`
    (`initial_state(batch)`, then `logits, state = step(prev_codes, state,
    index)` in raster order) in one XLA-compiled loop, and each layer keeps
    its own cache (Ramachandran et al. 2017): the conditioning terms are
    computed once; each block's vertical stack advances once per row on a
    rolling window of its last `kernel_size // 2 + 1` input rows, its
    horizontal stack once per position on a row buffer; each attention layer
    keeps every position's keys and values. `sample_naive` recomputes the
    whole forward pass at each position and is kept as the reference.

    VQ-VAE-2 (Razavi et al. 2019). The top prior: `attention_every=n` adds a
    `CausalSelfAttention` (`num_heads` heads of `attention_key_dim`
    channels) on the horizontal stream after every `n`-th block, as a
    residual, `h + attention(h)`; `dropout` drops the horizontal stream after
    each block and the attention probabilities (training only). The bottom
    prior: `spatial_condition_classes` embeds the top codes, and
    `conditioning_layers=m` passes the embedded map through a residual stack
    of `m` 3x3 layers before each block's 1x1 projection. All off by default
    (the variables of configs without them are unchanged).

    Shape contract: `call(codes)` or `call({"codes": codes, "condition": c,
    "spatial_condition": s})` with int `codes` `(batch, height, width)` gives
    logits `(batch, height, width, num_embeddings)`. `sample` returns int32
    `(num, height, width)`.

    Args:
        num_embeddings: int, number of codes `K`.
        shape: pair of ints, `(height, width)` of the code maps.
        filters: int, channels of each stack. Defaults to 64.
        num_layers: int >= 1, number of gated blocks. Defaults to 6.
        kernel_size: odd int, size of the blocks' convolutions. Defaults
            to 3.
        output_filters: int, channels of the hidden 1x1 layer of the output
            head. Defaults to `2 * filters`.
        condition_dim: int or None, size of a global condition vector
            (one-hot or dense floats), or with `num_classes` the size of the
            label embedding (defaults to `filters` then).
        num_classes: int or None: the global condition is an int label in
            `[0, num_classes)`, embedded.
        spatial_condition_shape: None, `(h, w, channels)` of a float map, or
            with `spatial_condition_classes` `(h, w)` of an int map; `h` and
            `w` divide `shape` (the map is upsampled by repetition).
        spatial_condition_classes: int or None, number of values of an int
            spatial map (e.g. the top level's `num_embeddings` in VQ-VAE-2).
        conditioning_layers: int or None, residual 3x3 layers over the
            embedded spatial condition (needs `spatial_condition_shape`).
        attention_every: int or None, a self-attention layer after every
            `attention_every`-th block.
        num_heads: int, attention heads. Defaults to 4.
        attention_key_dim: int or None, channels per head. Defaults to
            `filters // num_heads`.
        dropout: float in `[0, 1)`, after each block and on the attention
            probabilities. Defaults to 0.
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> prior = GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4),
    ...                            filters=8, num_layers=2)
    >>> prior.compile(optimizer="adam")
    >>> codes = keras.random.randint((8, 4, 4), 0, 16)
    >>> history = prior.fit(codes, epochs=1, verbose=0)
    >>> tuple(prior.sample(2, seed=1).shape)
    (2, 4, 4)

    References:
        van den Oord et al. Conditional Image Generation with PixelCNN
        Decoders. arXiv:1606.05328.
        Ramachandran et al. Fast Generation for Convolutional Autoregressive
        Models. arXiv:1704.06001.
        Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity
        Images with VQ-VAE-2. arXiv:1906.00446.
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937.
    """

    rank = 2

    def __init__(
        self,
        num_embeddings,
        shape,
        filters=64,
        num_layers=6,
        kernel_size=3,
        output_filters=None,
        condition_dim=None,
        num_classes=None,
        spatial_condition_shape=None,
        spatial_condition_classes=None,
        conditioning_layers=None,
        attention_every=None,
        num_heads=4,
        attention_key_dim=None,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in [
            ("num_embeddings", num_embeddings),
            ("filters", filters),
            ("num_layers", num_layers),
        ]:
            check_int(name, value)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
        if (
            not isinstance(shape, tuple)
            or len(shape) != 2
            or any(not isinstance(d, int) or d < 1 for d in shape)
        ):
            raise ValueError(
                f"`shape` must be a pair of positive ints (height, width), got {shape!r}"
            )
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be an odd int >= 1, got {kernel_size!r}")
        for name, value, lower in [
            ("conditioning_layers", conditioning_layers, 0),
            ("attention_every", attention_every, 1),
            ("attention_key_dim", attention_key_dim, 1),
        ]:
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < lower
            ):
                raise ValueError(
                    f"`{name}` must be None or an integer >= {lower}, got {value!r}"
                )
        check_int("num_heads", num_heads)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}")
        if conditioning_layers and spatial_condition_shape is None:
            raise ValueError(
                "`conditioning_layers` needs a spatial condition "
                "(`spatial_condition_shape`)."
            )
        self.num_embeddings = num_embeddings
        self.shape = shape
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.output_filters = resolve_output_filters(output_filters, filters)
        self._init_conditioning(
            filters, condition_dim, num_classes, spatial_condition_shape,
            spatial_condition_classes,
        )
        self._make_layers(lambda: [
            GatedPixelCNNBlock(
                filters,
                kernel_size,
                "A" if i == 0 else "B",
                condition_dim=self.block_condition_dim,
                spatial_condition_dim=self.block_spatial_dim,
                vertical_output=i + 1 < num_layers,
                dtype=self.dtype_policy,
                name=f"block{i}",
            )
            for i in range(num_layers)
        ])
        # VQ-VAE-2's options, created after the layers above so that the
        # variables of configs without them keep their names and order.
        self.conditioning_layers = conditioning_layers
        self.attention_every = attention_every
        self.num_heads = num_heads
        self.attention_key_dim = attention_key_dim
        self.dropout = float(dropout)
        self.conditioning_stack = None
        if conditioning_layers and self.block_spatial_dim is not None:
            self.conditioning_stack = ResidualStack(
                self.block_spatial_dim, conditioning_layers, self.block_spatial_dim,
                dtype=self.dtype_policy,
                name="conditioning_stack",
            )
        self._attention_after = {}
        self.attention_layers = []
        if attention_every is not None:
            for l in range(attention_every - 1, num_layers, attention_every):
                self._attention_after[l] = len(self.attention_layers)
                self.attention_layers.append(
                    CausalSelfAttention(
                        num_heads,
                        attention_key_dim or max(1, filters // num_heads),
                        dropout=self.dropout,
                        dtype=self.dtype_policy,
                        name=f"attention{len(self.attention_layers)}",
                    )
                )
        self.block_dropout = (
            keras.layers.Dropout(
                self.dropout, dtype=self.dtype_policy, name="block_dropout"
            )
            if self.dropout > 0
            else None
        )
        self._make_trackers()
        self.build()

    # ---------------------------------------------------------- forward
    def _condition_stack(self, spatial):
        if spatial is None or self.conditioning_stack is None:
            return spatial
        return self.conditioning_stack(spatial)

    def _logits_from_embedded(self, codes, condition, spatial, training=None):
        x = self.code_embedding(codes)
        spatial = self._condition_stack(spatial)
        v = h = x
        skip = 0.0
        for l, block in enumerate(self.blocks):
            v, h, s = block(v, h, condition, spatial)
            skip = skip + s
            if self.block_dropout is not None:
                h = self.block_dropout(h, training=training)
            a = self._attention_after.get(l)
            if a is not None:
                h = h + self.attention_layers[a](h, training=training)
        # The head sees the skips and the last horizontal stack's output.
        return self._output_head(skip + h)

    # ---------------------------------------------------------- stepping
    def _initial_state(self, batch_size, condition, spatial):
        spatial = self._condition_stack(spatial)
        width = self.shape[1]
        return {
            # The current row's codes so far: the vertical stacks take a
            # complete row.
            "row_codes": ops.zeros((batch_size, width), "int32"),
            "blocks": [
                b.initial_state(batch_size, width, condition, spatial)
                for b in self.blocks
            ],
            "attention": [
                a.initial_state(batch_size, self.shape[0] * width)
                for a in self.attention_layers
            ],
        }

    def step(self, prev_codes, state, index):
        """Logits at raster position `index` from the code drawn at
        `index - 1` (see `vq_zoo.generation.sampler`).

        At a row's start the finished row goes through every block's vertical
        stack (`GatedPixelCNNBlock.step_row`); then each block's horizontal
        stack (`GatedPixelCNNBlock.step`) and each attention layer
        (`CausalSelfAttention.step`) advance by one position.

        Args:
            prev_codes: int32 `(batch,)`, the codes at `index - 1` (ignored
                at 0).
            state: from `initial_state` or the previous step.
            index: int32 scalar, `row * width + col`.

        Returns:
            `(logits, state)`, logits `(batch, num_embeddings)`.
        """
        width = self.shape[1]
        row, col = index // width, index % width
        row_codes = ops.slice_update(
            state["row_codes"], (0, (col - 1) % width), prev_codes[:, None]
        )

        def advance(_, blocks):
            v = self.code_embedding(row_codes)
            out = []
            for block, block_state in zip(self.blocks, blocks):
                v, block_state = block.step_row(v, block_state, row - 1)
                out.append(block_state)
            return out

        # A loop of 0 or 1 trips, not a `cond`: XLA updates a loop's state in
        # place, while a conditional copies every cache it passes through at
        # each position (bench/RESULTS.md, "Sampling").
        starts_row = ops.logical_and(ops.equal(col, 0), ops.greater(row, 0))
        blocks = ops.fori_loop(
            0, ops.cast(starts_row, "int32"), advance, list(state["blocks"])
        )
        attention = list(state["attention"])
        # A type-A first block takes the previous position's input.
        h = self.code_embedding(prev_codes)
        skip = 0.0
        for l, block in enumerate(self.blocks):
            (h, s), blocks[l] = block.step(h, blocks[l], index)
            skip = skip + s
            a = self._attention_after.get(l)
            if a is not None:
                out, attention[a] = self.attention_layers[a].step(h, attention[a], index)
                h = h + out
        logits = self._output_head(skip + h)
        return logits, {"row_codes": row_codes, "blocks": blocks, "attention": attention}

    # ---------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "shape": self.shape,
                "filters": self.filters,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "output_filters": self.output_filters,
                **self._conditioning_config(),
                "conditioning_layers": self.conditioning_layers,
                "attention_every": self.attention_every,
                "num_heads": self.num_heads,
                "attention_key_dim": self.attention_key_dim,
                "dropout": self.dropout,
            }
        )
        return config


__all__ = ["GatedPixelCNNPrior"]
