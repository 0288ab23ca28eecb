"""Causal gated prior over 1D sequences of VQ-VAE codes (WaveNet style)."""

import keras
from keras import ops

from vq_zoo.utils.checks import check_int

from vq_zoo.layers.causal_gated_block import CausalGatedBlock
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import AutoregressivePrior
from vq_zoo.models.gated_pixelcnn.autoregressive_prior import resolve_output_filters


# The stack of `CausalGatedBlock`s that `GatedPixelCNN1DPrior` and
# `WaveNetDecoder` share: its forward pass, caches and step.
def embed_shifted(code_embedding, codes):
    """The codes' embeddings `(batch, length, filters)` shifted one step
    right (zeros first): the output at `t` then sees codes `< t` only."""
    x = code_embedding(codes)
    return ops.pad(x, [[0, 0], [1, 0], [0, 0]])[:, :-1]


def run_causal_blocks(blocks, x, condition, local, mask=None):
    """`(x, skip)`: `x` through every block with the global and local
    conditions, the last block's output and the sum of the skips.

    `mask`, `(batch, time, 1)` of 0 and 1 (or None): zeroes every block's
    input where it is 0, for a window that reaches before the sequence's
    start, so that each block sees there the zeros `call`'s causal padding
    gives it (not the previous block's response to a zero input)."""
    skip = 0.0
    for block in blocks:
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)
        x, s = block(x, condition, local)
        skip = skip + s
    return x, skip


def causal_initial_state(blocks, batch_size, condition, local, dtype):
    """Every block's queue before the first step (`condition` embedded) and,
    when given, the local condition `(batch, steps, channels)` cast to
    `dtype`, for `causal_step`."""
    state = {"blocks": [b.initial_state(batch_size, condition) for b in blocks]}
    if local is not None:
        state["local_condition"] = ops.cast(local, dtype)
    return state


def causal_step(code_embedding, blocks, prev_codes, state, index, local_index):
    """One step of the stack (Fast WaveNet): the embedding of the codes drawn
    at `index - 1` (zeros at 0) pushed through every block's queue
    (`CausalGatedBlock.step`) with the local condition at `local_index`.

    Args:
        code_embedding: the `Embedding` of the codes.
        blocks: the `CausalGatedBlock`s.
        prev_codes: int32 `(batch,)`, the codes at `index - 1`.
        state: from `causal_initial_state` or the previous step.
        index: int32 scalar.
        local_index: int32 scalar, the local condition's step at `index`.

    Returns:
        `(x, skip, state)`: the last block's output and the sum of the skips,
        both `(batch, filters)`, and the updated state.
    """
    x = code_embedding(prev_codes)
    x = ops.where(ops.greater(index, 0), x, ops.zeros_like(x))
    local = state.get("local_condition")
    if local is not None:
        local = ops.take(local, local_index, axis=1)
    queues = list(state["blocks"])
    skip = 0.0
    for l, block in enumerate(blocks):
        (x, s), queues[l] = block.step(x, queues[l], index, local)
        skip = skip + s
    return x, skip, dict(state, blocks=queues)


@keras.saving.register_keras_serializable(package="vq_zoo")
class GatedPixelCNN1DPrior(AutoregressivePrior):
    """The 1D variant of the gated PixelCNN prior: dilated causal
    convolutions with the same gates, residual and skip connections, as in
    WaveNet, over sequences of `length` codes (audio codes, or short code
    sequences such as DeepMind Lab stage 2's 3 codes).

    Codes are embedded and shifted one step right (so the output at `t` sees
    codes `< t` only), passed through `CausalGatedBlock`s with
    `dilation_rates`, and the sum of their skips and the last block's output
    goes through
    `relu -> 1x1 -> relu -> 1x1` to `num_embeddings` logits per step. Training,
    metrics and conditioning are those of `GatedPixelCNNPrior` (the spatial
    condition is a sequence here, e.g. the upper level's codes).

    `sample` drives the prior's `step` through
    `vq_zoo.generation.sample_with_cache` in one XLA-compiled loop; each
    block keeps a queue of its last `dilation_rate * (kernel_size - 1)`
    inputs (Fast WaveNet, Paine et al. 2016), so a step costs `kernel_size`
    taps per layer whatever the receptive field; `sample_naive` recomputes
    the whole sequence at every step and draws the same codes for the same
    seed.

    Shape contract: int codes `(batch, length)` to logits
    `(batch, length, num_embeddings)`; `sample` returns int32 `(num, length)`.

    Args:
        num_embeddings: int, number of codes `K`.
        length: int, number of codes per sequence.
        filters: int, channels of the residual stream. Defaults to 64.
        dilation_rates: sequence of ints, one block per entry. Defaults to
            `(1, 2, 4, 8)`.
        kernel_size: int, taps of each causal convolution. Defaults to 2.
        output_filters: int, channels of the output head's hidden layer.
            Defaults to `2 * filters`.
        condition_dim, num_classes, spatial_condition_shape,
        spatial_condition_classes: conditioning, as in `GatedPixelCNNPrior`
            (`spatial_condition_shape` is `(t, channels)` or, for ints,
            `(t,)`, with `t` dividing `length`).
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> prior = GatedPixelCNN1DPrior(num_embeddings=16, length=3, filters=8,
    ...                              dilation_rates=(1, 2), num_classes=4)
    >>> labels = keras.ops.array([0, 3])
    >>> tuple(prior.sample(2, condition=labels, seed=0).shape)
    (2, 3)

    References:
        van den Oord et al. WaveNet: A Generative Model for Raw Audio.
        arXiv:1609.03499.
        Paine et al. Fast Wavenet Generation Algorithm. arXiv:1611.09482.
        Ramachandran et al. Fast Generation for Convolutional Autoregressive
        Models. arXiv:1704.06001.
    """

    rank = 1

    def __init__(
        self,
        num_embeddings,
        length,
        filters=64,
        dilation_rates=(1, 2, 4, 8),
        kernel_size=2,
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
            ("length", length),
            ("filters", filters),
            ("kernel_size", kernel_size),
        ]:
            check_int(name, value)
        dilation_rates = tuple(dilation_rates)
        if not dilation_rates or any(
            not isinstance(d, int) or d < 1 for d in dilation_rates
        ):
            raise ValueError(
                "`dilation_rates` must be a non-empty sequence of integers >= 1, "
                f"got {dilation_rates!r}"
            )
        self.num_embeddings = num_embeddings
        self.length = length
        self.shape = (length,)
        self.filters = filters
        self.dilation_rates = dilation_rates
        self.kernel_size = kernel_size
        self.output_filters = resolve_output_filters(output_filters, filters)
        self._init_conditioning(
            filters, condition_dim, num_classes, spatial_condition_shape,
            spatial_condition_classes,
        )
        self._make_layers(lambda: [
            CausalGatedBlock(
                filters,
                kernel_size,
                dilation_rate=d,
                condition_dim=self.block_condition_dim,
                local_condition_dim=self.block_spatial_dim,
                dtype=self.dtype_policy,
                name=f"block{i}",
            )
            for i, d in enumerate(dilation_rates)
        ])
        self._make_trackers()
        self.build()

    def _logits_from_embedded(self, codes, condition, spatial, training=None):
        x, skip = run_causal_blocks(
            self.blocks, embed_shifted(self.code_embedding, codes), condition, spatial
        )
        return self._output_head(skip + x)

    # ---------------------------------------------------------- stepping
    def _initial_state(self, batch_size, condition, spatial):
        return causal_initial_state(
            self.blocks, batch_size, condition, spatial, self.compute_dtype
        )

    def step(self, prev_codes, state, index):
        """Logits at step `index` from the code drawn at `index - 1` (see
        `vq_zoo.generation.sampler` and `causal_step`), with the local
        condition at `index`: `(logits, state)`, logits `(batch,
        num_embeddings)`."""
        x, skip, state = causal_step(
            self.code_embedding, self.blocks, prev_codes, state, index, index
        )
        return self._output_head(skip + x), state

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_embeddings": self.num_embeddings,
                "length": self.length,
                "filters": self.filters,
                "dilation_rates": self.dilation_rates,
                "kernel_size": self.kernel_size,
                "output_filters": self.output_filters,
                **self._conditioning_config(),
            }
        )
        return config


__all__ = ["GatedPixelCNN1DPrior"]
