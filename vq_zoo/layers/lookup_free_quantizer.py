"""Lookup-free quantisation (MAGVIT-v2, Yu et al. 2023, arXiv 2310.05737)."""

import math

import keras
import numpy as np
from keras import ops

from vq_zoo.layers import quantizer_outputs as qo
from vq_zoo.utils.checks import check_positive_int
from vq_zoo.utils.distribute import cross_replica_sum


def _check_number(name, value, ok, expected):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="vq_zoo")
class LookupFreeQuantizer(keras.layers.Layer):
    """Lookup-free quantisation: each of `b = log2(num_embeddings)` channels
    is quantised to its sign, `q_i = +1 if z_i > 0 else -1`, so the codebook
    is the implied set `{-1, 1}^b` and the nearest code needs no search. The
    index is the binary number of the bits `q_i > 0`, first channel most
    significant.

    Training: a straight-through output `z + stop_gradient(q - z)`, the
    commitment loss `commitment_cost * mean((z - stop_gradient(q))^2)`, and
    MAGVIT-v2's entropy penalty (its eq. 3), returned as `"codebook_loss"`
    (the term that shapes how the implied codebook is used):

        entropy_loss_weight * (E_z[H(p(c | z))] - diversity_gamma * H(E_z[p(c | z)]))

    with `p(c | z) = softmax_c(-|z - c|^2 / entropy_temperature)` over all
    `num_embeddings` codes. The first term makes each vector commit to a
    code, the second spreads the batch over the codes. The batch average
    `E_z[p(c | z)]` is that of the global batch under `tf.distribute` (an
    all-reduce, differentiable), so 1 and 2 replicas train alike. The
    `(N, num_embeddings)` soft assignment is computed in full, in float32:
    keep `num_embeddings` moderate (2^10 to 2^14).

    With `embedding_dim` other than `b`, inputs are projected to `b`
    channels (`project_in`, float32 Dense) and the quantised values back
    (`project_out`).

    Outputs: the VQ layers' dict (`"quantized"`, int32
    `"encoding_indices"`, `"loss"` = `"codebook_loss"` +
    `"commitment_loss"`, `"perplexity"`, `"code_counts"`,
    `"update_skipped"`) and `"per_sample_entropy"`, `"codebook_entropy"`
    (nats, global batch).

    Args:
        num_embeddings: int, a power of 2: `2^b` codes.
        embedding_dim: int or None, the input's last axis; None means `b`.
        commitment_cost: float >= 0. Defaults to 0.25.
        entropy_loss_weight: float >= 0. Defaults to 0.1.
        diversity_gamma: float >= 0, weight of the codebook entropy.
            Defaults to 1.0.
        entropy_temperature: float > 0. Defaults to 0.01.
        **kwargs: base `keras.layers.Layer` arguments.

    The defaults of the last three are those of the reference PyTorch
    implementation (lucidrains/vector-quantize-pytorch); the paper does not
    give them.

    Example:
    >>> lfq = LookupFreeQuantizer(num_embeddings=1024)
    >>> out = lfq(keras.random.normal((2, 7, 7, 10)), training=True)
    >>> tuple(out["encoding_indices"].shape)
    (2, 7, 7)

    References:
        Yu et al. Language Model Beats Diffusion: Tokenizer is Key to
        Visual Generation. arXiv:2310.05737.
    """

    def __init__(
        self,
        num_embeddings,
        embedding_dim=None,
        commitment_cost=0.25,
        entropy_loss_weight=0.1,
        diversity_gamma=1.0,
        entropy_temperature=0.01,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_embeddings", num_embeddings)
        bits = int(round(math.log2(num_embeddings)))
        if num_embeddings < 2 or 2 ** bits != num_embeddings:
            raise ValueError(
                "`num_embeddings` must be a power of 2 >= 2 (2^bits codes). "
                f"Received: num_embeddings={num_embeddings!r}"
            )
        if embedding_dim is not None:
            check_positive_int("embedding_dim", embedding_dim)
        _check_number("commitment_cost", commitment_cost, lambda v: v >= 0, ">= 0")
        _check_number("entropy_loss_weight", entropy_loss_weight, lambda v: v >= 0, ">= 0")
        _check_number("diversity_gamma", diversity_gamma, lambda v: v >= 0, ">= 0")
        _check_number("entropy_temperature", entropy_temperature, lambda v: v > 0, "> 0")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.commitment_cost = float(commitment_cost)
        self.entropy_loss_weight = float(entropy_loss_weight)
        self.diversity_gamma = float(diversity_gamma)
        self.entropy_temperature = float(entropy_temperature)
        self.code_dim = bits
        # Bit i of an index has weight 2^(b - 1 - i): first channel first.
        self._weights = (2 ** np.arange(bits - 1, -1, -1)).astype("int32")

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

    def __call__(self, inputs, *args, **kwargs):
        qo.check_float_input(self, inputs, self.input_dim)
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_spec(self, inputs, training=None):
        return qo.output_spec(
            self, inputs, tuple(inputs.shape[:-1]), self.num_embeddings,
            extra=[("per_sample_entropy", ()), ("codebook_entropy", ())])

    # ---------------------------------------------------------------- maths
    def _signs(self, z):
        return ops.where(z > 0, 1.0, -1.0)

    def _index(self, z):
        bits = ops.cast(z > 0, "int32")
        return ops.sum(bits * self._weights, axis=-1)

    def _codes(self):
        """float32 `(num_embeddings, b)`: the ±1 vector of every index."""
        idx = ops.arange(self.num_embeddings, dtype="int32")[:, None]
        bits = (idx // self._weights) % 2
        return ops.cast(bits, "float32") * 2.0 - 1.0

    def entropy_terms(self, flat):
        """`(per_sample_entropy, codebook_entropy)` in nats of `(N, b)`
        float32 vectors: the mean entropy of each vector's soft assignment
        and the entropy of the (global) batch's average assignment."""
        # -|z - c|^2 = 2 z.c - |z|^2 - b: only 2 z.c differs between codes.
        logits = ops.matmul(flat, ops.transpose(self._codes())) * (
            2.0 / self.entropy_temperature)
        log_p = ops.log_softmax(logits, axis=-1)
        p = ops.exp(log_p)
        per_sample = -ops.sum(p * log_p, axis=-1)
        n = ops.cast(ops.shape(flat)[0], "float32")
        total = cross_replica_sum(ops.stack([n, ops.sum(per_sample)]))
        avg_p = cross_replica_sum(ops.sum(p, axis=0)) / ops.maximum(total[0], 1.0)
        codebook_entropy = -ops.sum(avg_p * ops.log(avg_p + 1e-10))
        # The local mean: the model's step averages it over replicas.
        per_sample_mean = ops.sum(per_sample) / ops.maximum(n, 1.0)
        return per_sample_mean, codebook_entropy

    # ---------------------------------------------------------------- call
    def call(self, inputs, training=None):
        qo.check_input_shape(self, inputs.shape, self.input_dim)
        x = ops.cast(inputs, "float32")
        flat = ops.reshape(x, (-1, self.input_dim))
        if self.projected:
            flat = self.project_in(flat)
        q = self._signs(ops.stop_gradient(flat))
        flat_indices = self._index(ops.stop_gradient(flat))
        size = ops.maximum(ops.cast(ops.size(flat), "float32"), 1.0)
        commitment = self.commitment_cost * ops.sum(
            ops.square(flat - q)) / size
        if training and self.entropy_loss_weight > 0:
            per_sample, codebook_entropy = self.entropy_terms(flat)
            entropy_loss = self.entropy_loss_weight * (
                per_sample - self.diversity_gamma * codebook_entropy)
        else:
            # The penalty only shapes training; skip its (N, K) softmax.
            per_sample = codebook_entropy = entropy_loss = ops.zeros((), "float32")
        values = flat + ops.stop_gradient(q - flat)
        if self.projected:
            values = self.project_out(values)
        counts = qo.global_counts(flat_indices, self.num_embeddings)
        return {
            "quantized": ops.cast(ops.reshape(values, ops.shape(x)), self.compute_dtype),
            "encoding_indices": ops.reshape(flat_indices, ops.shape(x)[:-1]),
            "loss": entropy_loss + commitment,
            "codebook_loss": entropy_loss,
            "commitment_loss": commitment,
            "perplexity": qo.perplexity(counts),
            "code_counts": counts,
            "update_skipped": ops.zeros((), "float32"),
            "per_sample_entropy": per_sample,
            "codebook_entropy": codebook_entropy,
        }

    # ----------------------------------------------------------- public API
    def encode(self, inputs):
        """Vectors (last axis `embedding_dim`) to int32 code indices."""
        x, flat = qo.flat_encoder_input(self, inputs)
        return ops.reshape(self._index(flat), ops.shape(x)[:-1])

    def lookup(self, indices):
        """Int code indices of any shape to their vectors,
        `indices.shape + (embedding_dim,)`, in the compute dtype."""
        indices = qo.check_indices(self, ops.convert_to_tensor(indices), self.num_embeddings)
        if not self.built:
            self.build((None, self.input_dim))
        idx = ops.expand_dims(ops.cast(indices, "int32"), -1)
        values = ops.cast((idx // self._weights) % 2, "float32") * 2.0 - 1.0
        if self.projected:
            shape = ops.shape(values)
            values = self.project_out(ops.reshape(values, (-1, self.code_dim)))
            values = ops.reshape(values, tuple(shape[:-1]) + (self.input_dim,))
        return ops.cast(values, self.compute_dtype)

    @property
    def codebook(self):
        """float32 `(num_embeddings, embedding_dim)`: the vector `lookup`
        gives for every code index."""
        return ops.cast(self.lookup(ops.arange(self.num_embeddings, dtype="int32")),
                        "float32")

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "commitment_cost": self.commitment_cost,
            "entropy_loss_weight": self.entropy_loss_weight,
            "diversity_gamma": self.diversity_gamma,
            "entropy_temperature": self.entropy_temperature,
        })
        return config


__all__ = ["LookupFreeQuantizer"]
