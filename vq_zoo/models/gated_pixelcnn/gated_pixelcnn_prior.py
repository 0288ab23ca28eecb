"""Gated PixelCNN prior over 2D maps of VQ-VAE codes."""

import keras
from keras import ops

from vq_zoo.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from vq_zoo.layers.gated_pixelcnn_block import gate
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import AutoregressivePrior


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
    one, one compiled loop with per-layer caches (Ramachandran et al. 2017):
    the conditioning terms are computed once; the vertical stack, which does
    not depend on the current row, once per row on a rolling window of the
    last `kernel_size // 2 + 1` rows of each layer's input; the horizontal
    stack once per position on each layer's current-row buffer. A position
    costs `O(num_layers * kernel_size)` small matrix products instead of a
    forward pass over the whole map. `sample_naive` recomputes the whole
    forward pass at each position and is kept as the reference.

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in [
            ("num_embeddings", num_embeddings),
            ("filters", filters),
            ("num_layers", num_layers),
        ]:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
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
        output_filters = 2 * filters if output_filters is None else output_filters
        if not isinstance(output_filters, int) or output_filters < 1:
            raise ValueError(
                f"`output_filters` must be None or an integer >= 1, got {output_filters!r}"
            )
        self.num_embeddings = num_embeddings
        self.shape = shape
        self.filters = filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.output_filters = output_filters
        self._init_conditioning(
            filters, condition_dim, num_classes, spatial_condition_shape,
            spatial_condition_classes,
        )
        self.code_embedding = keras.layers.Embedding(
            num_embeddings, filters, name="code_embedding"
        )
        self.blocks = [
            GatedPixelCNNBlock(
                filters,
                kernel_size,
                "A" if i == 0 else "B",
                condition_dim=self.block_condition_dim,
                spatial_condition_dim=self.block_spatial_dim,
                vertical_output=i + 1 < num_layers,
                name=f"block{i}",
            )
            for i in range(num_layers)
        ]
        self.output_hidden = keras.layers.Dense(output_filters, name="output_hidden")
        self.output_logits = keras.layers.Dense(num_embeddings, name="output_logits")
        self._make_trackers()
        self.build()

    # ---------------------------------------------------------- forward
    def _logits_from_embedded(self, codes, condition, spatial, training=None):
        x = self.code_embedding(codes)
        v = h = x
        skip = 0.0
        for block in self.blocks:
            v, h, s = block(v, h, condition, spatial)
            skip = skip + s
        # The head sees the skips and the last horizontal stack's output.
        return self._output_head(skip + h)

    # ---------------------------------------------------------- sampling
    def _sample_cached(self, noise, condition, spatial, temperature):
        height, width = self.shape
        num = ops.shape(noise)[0]
        pad = self.kernel_size // 2
        filters = self.filters
        dtype = self.compute_dtype

        # Everything that does not depend on the codes, computed once.
        terms = [b.condition_terms(condition, spatial) for b in self.blocks]
        vertical_kernels = [
            b.vertical_conv.masked_kernel()[: pad + 1] for b in self.blocks
        ]
        horizontal_kernels = [
            b.horizontal_conv.masked_kernel()[0, : pad + 1] for b in self.blocks
        ]

        def term_at(term, i=None, j=None):
            # A global term is (num, 1, 1, c), a spatial one (num, H, W, c).
            if not ops.is_tensor(term) and not hasattr(term, "shape"):
                return term
            if i is not None:
                term = ops.take(term, i if term.shape[1] > 1 else 0, axis=1)
            if j is not None:
                term = ops.take(term, j if term.shape[-2] > 1 else 0, axis=-2)
            return term

        def pixel(i, j, state):
            codes, rows, links = state
            skip = 0.0
            new_rows = list(rows)
            for l, block in enumerate(self.blocks):
                window = ops.slice(
                    new_rows[l], (0, j, 0), (num, pad + 1, new_rows[l].shape[-1])
                )
                pre = (
                    ops.einsum("bkc,kco->bo", window, horizontal_kernels[l])
                    + ops.cast(block.horizontal_conv.bias, dtype)
                    + ops.take(links[l], j, axis=1)
                    + term_at(terms[l][1], i, j)
                )
                g = gate(pre)
                skip = skip + block.skip_output(g)
                out = block.horizontal_output(g)
                if block.mask_type == "B":
                    out = out + window[:, pad]
                if l + 1 < len(self.blocks):
                    new_rows[l + 1] = ops.slice_update(
                        new_rows[l + 1], (0, j + pad, 0), out[:, None, :]
                    )
            logits = ops.cast(self._output_head(skip + out), "float32")
            scores = logits / temperature + ops.take(
                ops.take(noise, i, axis=1), j, axis=1
            )
            code = ops.cast(ops.argmax(scores, axis=-1), "int32")
            codes = ops.slice_update(codes, (0, i, j), code[:, None, None])
            new_rows[0] = ops.slice_update(
                new_rows[0], (0, j + pad, 0), self.code_embedding(code)[:, None, :]
            )
            return codes, new_rows, links

        def advance_vertical(i, codes, windows):
            # Row i is complete: push it through the vertical stacks and
            # return the links the horizontal stacks use on row i + 1.
            x = self.code_embedding(ops.take(codes, i, axis=1))
            new_windows, links = [], []
            for l, block in enumerate(self.blocks):
                x = ops.pad(x, [[0, 0], [pad, pad], [0, 0]])[:, None]
                window = ops.concatenate([windows[l][:, 1:], x], axis=1)
                new_windows.append(window)
                v_pre = ops.conv(window, vertical_kernels[l], padding="valid")[:, 0]
                v_pre = v_pre + ops.cast(block.vertical_conv.bias, dtype)
                links.append(block.vertical_to_horizontal(v_pre))
                x = gate(v_pre + term_at(terms[l][0], i))
            return new_windows, links

        def row(i, state):
            codes, windows, rows, links = state
            codes, rows, links = ops.fori_loop(
                0, width, lambda j, s: pixel(i, j, s), (codes, rows, links)
            )
            windows, links = advance_vertical(i, codes, windows)
            return codes, windows, rows, links

        zeros_row = ops.zeros((num, width, 2 * filters), dtype)
        links = [b.vertical_to_horizontal(zeros_row) for b in self.blocks]
        windows = [
            ops.zeros((num, pad + 1, width + 2 * pad, filters), dtype)
            for _ in self.blocks
        ]
        rows = [ops.zeros((num, width + pad, filters), dtype) for _ in self.blocks]
        codes = ops.zeros((num, height, width), "int32")
        codes, _, _, _ = ops.fori_loop(
            0, height, row, (codes, windows, rows, links)
        )
        return codes

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
            }
        )
        return config


__all__ = ["GatedPixelCNNPrior"]
