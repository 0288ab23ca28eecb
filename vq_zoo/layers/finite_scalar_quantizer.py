"""Finite scalar quantisation (Mentzer et al. 2023, arXiv 2309.15505)."""

import keras
import numpy as np
from keras import ops

from vq_zoo.layers import quantizer_outputs as qo
from vq_zoo.utils.checks import check_positive_int

# Table 1 of arXiv 2309.15505: the recommended levels for a target codebook
# size, by that size.
FSQ_LEVEL_PRESETS = {
    "2^8": (8, 6, 5),
    "2^10": (8, 5, 5, 5),
    "2^12": (7, 5, 5, 5, 5),
    "2^14": (8, 8, 8, 6, 5),
    "2^16": (8, 8, 8, 5, 5, 5),
}


def resolve_levels(levels):
    """A tuple of ints >= 2 from a sequence or a `FSQ_LEVEL_PRESETS` name
    (also given as the size, e.g. "1024" or 1024)."""
    if isinstance(levels, str) and "," in levels:
        try:
            levels = tuple(int(v) for v in levels.split(",") if v.strip())
        except ValueError:
            raise ValueError(
                "`levels` must be integers >= 2 separated by commas (e.g. "
                f"\"8,5,5,5\") or a preset name. Received: levels={levels!r}"
            ) from None
    if isinstance(levels, (str, int)) and not isinstance(levels, bool):
        key = str(levels)
        by_size = {str(int(np.prod(v))): n for n, v in FSQ_LEVEL_PRESETS.items()}
        by_size.update({str(2 ** int(n[2:])): n for n in FSQ_LEVEL_PRESETS})
        name = key if key in FSQ_LEVEL_PRESETS else by_size.get(key)
        if name is None:
            raise ValueError(
                "`levels` must be a sequence of integers >= 2 or one of the "
                f"presets {', '.join(FSQ_LEVEL_PRESETS)} (Table 1 of arXiv "
                f"2309.15505). Received: levels={levels!r}"
            )
        return tuple(FSQ_LEVEL_PRESETS[name])
    try:
        out = tuple(levels)
    except TypeError:
        out = None
    if (
        not out
        or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2
               for v in out)
    ):
        raise ValueError(
            "`levels` must be a non-empty sequence of integers >= 2 (e.g. "
            f"(8, 5, 5, 5)) or a preset name. Received: levels={levels!r}"
        )
    return tuple(int(v) for v in out)


@keras.saving.register_keras_serializable(package="vq_zoo")
class FiniteScalarQuantizer(keras.layers.Layer):
    """Finite scalar quantisation: each of `d = len(levels)` channels is
    bounded and rounded to one of `levels[i]` values, so the codebook is the
    implied grid of `prod(levels)` points; no codebook is learned and no
    codebook or commitment loss is needed.

    Channel `i` of `z` is bounded to `f(z) = tanh(z + s) * h - o` with
    `h = (L - 1)(1 - epsilon) / 2`, `o = 0.5` for even `L` (0 for odd) and
    `s = tan(o / h)` (appendix A.1's code; close to `atanh(o / h)`, which
    would give `f(0) = 0` exactly but is undefined for `L = 2`), rounded with a straight-through gradient
    (`round(f) = f + stop_gradient(round(f) - f)`) to one of the `L`
    integers in `[-L // 2, (L - 1) // 2]`, and divided by `L // 2`. The code
    index is the mixed-radix number of the per-channel digits
    `round(f) + L // 2`, first channel least significant (`lookup` inverts
    it). Everything runs in float32 whatever the dtype policy: a bfloat16
    `tanh` and rounding merges neighbouring levels (vector-quantize-pytorch
    issue 114: about half of the codes reachable).

    With `embedding_dim` other than `d`, inputs are projected to `d`
    channels (`project_in`, a float32 Dense) and the quantised values back
    (`project_out`), so the layer drops in for a VQ layer of any size.

    Outputs: the VQ layers' dict: `"quantized"` (the input's shape and
    compute dtype), int32 `"encoding_indices"` (the input shape without its
    last axis), `"loss"`, `"codebook_loss"`, `"commitment_loss"` (all 0),
    `"perplexity"` and `"code_counts"` (`(num_embeddings,)`) of the global
    batch, and `"update_skipped"` (0: no state).

    Shape contract: input `(..., embedding_dim)` of rank >= 2.

    Args:
        levels: sequence of ints >= 2 (e.g. `(8, 5, 5, 5)`: 1000 codes; also
            as a string `"8,5,5,5"`), or a Table 1 preset by name or size
            (`"2^10"`, `1024`: see `FSQ_LEVEL_PRESETS`).
        embedding_dim: int or None, the input's last axis; None means
            `len(levels)` (no projection).
        epsilon: float in (0, 1), keeps the bound inside the outer levels.
            Defaults to 1e-3 (the paper's).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> fsq = FiniteScalarQuantizer(levels=(8, 5, 5, 5))
    >>> out = fsq(keras.random.normal((2, 7, 7, 4)))
    >>> tuple(out["encoding_indices"].shape), fsq.num_embeddings
    ((2, 7, 7), 1000)

    References:
        Mentzer, Minnen, Agustsson, Tschannen. Finite Scalar Quantization:
        VQ-VAE Made Simple. arXiv:2309.15505.
    """

    def __init__(self, levels, embedding_dim=None, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.levels = resolve_levels(levels)
        if embedding_dim is not None:
            check_positive_int("embedding_dim", embedding_dim)
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, (int, float))
            or not 0 < epsilon < 1
        ):
            raise ValueError(
                f"`epsilon` must be in (0, 1). Received: epsilon={epsilon!r}"
            )
        self.embedding_dim = embedding_dim
        self.epsilon = float(epsilon)
        self.code_dim = len(self.levels)
        self.num_embeddings = int(np.prod(self.levels))
        levels = np.asarray(self.levels, np.float64)
        half_l = (levels - 1) * (1 - self.epsilon) / 2
        offset = np.where(self.levels_even, 0.5, 0.0)
        # NumPy constants: made part of whatever graph uses them.
        self._half_l = half_l.astype("float32")
        self._offset = offset.astype("float32")
        self._shift = np.tan(offset / half_l).astype("float32")
        self._half_width = (levels // 2).astype("float32")
        self._basis = np.cumprod((1,) + self.levels[:-1]).astype("int32")

    @property
    def levels_even(self):
        return [v % 2 == 0 for v in self.levels]

    @property
    def input_dim(self):
        return self.embedding_dim or self.code_dim

    @property
    def projected(self):
        return self.input_dim != self.code_dim

    def build(self, input_shape):
        qo.check_input_shape(self, input_shape, self.input_dim)
        if self.projected:
            self.project_in, self.project_out = qo.make_projections(
                self, self.input_dim, self.code_dim
            )

    # ---------------------------------------------------------------- maths
    def _bound(self, z):
        return ops.tanh(z + self._shift) * self._half_l - self._offset

    def _digits_to_index(self, digits):
        return ops.sum(digits * self._basis, axis=-1)

    def _index_to_values(self, indices):
        """`(..., d)` normalised code values of int indices `(...)`."""
        idx = ops.expand_dims(ops.cast(indices, "int32"), -1)
        digits = (idx // self._basis) % np.asarray(self.levels, "int32")
        return (ops.cast(digits, "float32") - self._half_width) / self._half_width

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, *args, **kwargs):
        qo.check_float_input(self, inputs, self.input_dim)
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_spec(self, inputs, training=None):
        return qo.output_spec(self, inputs, tuple(inputs.shape[:-1]), self.num_embeddings)

    def _quantize_flat(self, flat):
        """`(values, digits)` of `(N, d)` float32 vectors: straight-through
        normalised values and int32 digits in `[0, L)`."""
        bounded = self._bound(flat)
        rounded = ops.round(bounded)
        values = (bounded + ops.stop_gradient(rounded - bounded)) / self._half_width
        digits = ops.cast(rounded, "int32") + self._half_width.astype("int32")
        return values, digits

    def call(self, inputs, training=None):
        qo.check_input_shape(self, inputs.shape, self.input_dim)
        x = ops.cast(inputs, "float32")
        flat = ops.reshape(x, (-1, self.input_dim))
        if self.projected:
            flat = self.project_in(flat)
        values, digits = self._quantize_flat(flat)
        flat_indices = self._digits_to_index(digits)
        if self.projected:
            values = self.project_out(values)
        counts = qo.global_counts(flat_indices, self.num_embeddings)
        zero = ops.zeros((), "float32")
        return {
            "quantized": ops.cast(ops.reshape(values, ops.shape(x)), self.compute_dtype),
            "encoding_indices": ops.reshape(flat_indices, ops.shape(x)[:-1]),
            "loss": zero,
            "codebook_loss": zero,
            "commitment_loss": zero,
            "perplexity": qo.perplexity(counts),
            "code_counts": counts,
            "update_skipped": zero,
        }

    # ----------------------------------------------------------- public API
    def encode(self, inputs):
        """Vectors (last axis `embedding_dim`) to int32 code indices."""
        x, flat = qo.flat_encoder_input(self, inputs)
        _, digits = self._quantize_flat(flat)
        return ops.reshape(self._digits_to_index(digits), ops.shape(x)[:-1])

    def lookup(self, indices):
        """Int code indices of any shape to their vectors,
        `indices.shape + (embedding_dim,)`, in the compute dtype."""
        indices = qo.check_indices(self, ops.convert_to_tensor(indices), self.num_embeddings)
        if not self.built:
            self.build((None, self.input_dim))
        values = self._index_to_values(indices)
        if self.projected:
            shape = ops.shape(values)
            values = self.project_out(ops.reshape(values, (-1, self.code_dim)))
            values = ops.reshape(values, tuple(shape[:-1]) + (self.input_dim,))
        return ops.cast(values, self.compute_dtype)

    @property
    def implied_codebook(self):
        """float32 `(num_embeddings, len(levels))`: the normalised grid
        point of every code index (before `project_out`)."""
        return self._index_to_values(ops.arange(self.num_embeddings, dtype="int32"))

    @property
    def codebook(self):
        """float32 `(num_embeddings, embedding_dim)`: the vector `lookup`
        gives for every code index."""
        return ops.cast(self.lookup(ops.arange(self.num_embeddings, dtype="int32")),
                        "float32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "levels": list(self.levels),
            "embedding_dim": self.embedding_dim,
            "epsilon": self.epsilon,
        })
        return config


__all__ = ["FiniteScalarQuantizer", "FSQ_LEVEL_PRESETS"]
