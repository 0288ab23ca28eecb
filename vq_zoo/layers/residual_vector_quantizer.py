"""Residual vector quantisation (SoundStream, Zeghidour et al. 2021,
arXiv 2107.03312, algorithm 1)."""

import keras
from keras import ops

from vq_zoo.layers import quantizer_outputs as qo
from vq_zoo.utils.checks import check_positive_int
from vq_zoo.utils.checks import check_real
from vq_zoo.utils.checks import check_seed


@keras.saving.register_keras_serializable(package="vq_zoo")
class ResidualVectorQuantizer(keras.layers.Layer):
    """`num_quantizers` VQ stages, each quantising what the stages before it
    left: `r_1 = z`, `k_i = argmin_k |r_i - e^(i)_k|`,
    `r_{i+1} = r_i - e^(i)_{k_i}`, and `z_q = sum_i e^(i)_{k_i}`. With `K`
    codes a stage the N codes of a position address `K^N` vectors.

    Each stage is a `VectorQuantizerEMA` (`ema=True`, SoundStream's) or a
    `VectorQuantizer`, named `stage_<i>`, computing in float32 under any
    dtype policy, with every option of those layers (`quantizer_kwargs`:
    `kmeans_init`, `dead_code_threshold`, `use_cosine_similarity`,
    `codebook_dim`, ...; not `rotation_trick`, whose rotated gradient a sum
    of stages cannot pass on). Their EMA statistics and dead-code restarts
    are all-reduced across replicas as in those layers. The residual passed
    on is `r_i - stop_gradient(e_{k_i})`, so every stage's commitment loss
    reaches the encoder; `"quantized"` is `z + stop_gradient(z_q - z)`.

    Quantizer dropout (SoundStream section 3.3, bitrate scalability): in
    training, with probability `quantizer_dropout` a batch uses only its
    first `n` stages, `n` uniform in `[1, num_quantizers]`; the later stages'
    codes leave `"quantized"` and their losses the objective. Both draws are
    one per global batch from a seed shared by the replicas, so every
    replica drops the same stages. The dropped stages still see their
    residuals, so an EMA stage keeps following its input's statistics.

    Outputs: the VQ layers' dict with int32 `"encoding_indices"` of shape
    `(..., num_quantizers)` (stage codes, first stage first), `"loss"`,
    `"codebook_loss"`, `"commitment_loss"` summed over the stages used,
    `"code_counts"` `(num_embeddings,)`: how often each index was used by
    any stage (the alphabet a prior over all stages' codes sees), and
    `"perplexity"` of those counts; per stage `"stage_code_counts"`
    `(num_quantizers, num_embeddings)` and `"stage_perplexity"`
    `(num_quantizers,)`; `"update_skipped"` (1.0 when any stage skipped).

    Shape contract: input `(..., embedding_dim)` of rank >= 2;
    `"quantized"` the same; `encode` gives `(..., num_quantizers)`;
    `lookup` takes `(..., n)` codes of the first `n <= num_quantizers`
    stages (a coarser reconstruction for smaller `n`).

    Args:
        num_quantizers: int >= 1, number of stages `N`.
        embedding_dim: int, the input's last axis.
        num_embeddings: int, codes per stage `K`.
        commitment_cost: float, `beta` of every stage. Defaults to 0.25.
        ema: bool, EMA stages (default) or gradient-trained stages.
        decay: float, EMA decay of the stages. Defaults to 0.99.
        quantizer_dropout: float in [0, 1], probability of dropping the
            later stages of a training batch. Defaults to 0 (off).
        seed: int or None: stage `i` is seeded with `seed + i`, the dropout
            draws with `seed`.
        quantizer_kwargs: dict of further stage arguments.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> rvq = ResidualVectorQuantizer(num_quantizers=4, embedding_dim=8,
    ...                               num_embeddings=32)
    >>> out = rvq(keras.random.normal((2, 16, 8)))
    >>> tuple(out["encoding_indices"].shape)
    (2, 16, 4)

    References:
        Zeghidour, Luebs, Omran, Skoglund, Tagliasacchi. SoundStream: An
        End-to-End Neural Audio Codec. arXiv:2107.03312.
    """

    def __init__(
        self,
        num_quantizers,
        embedding_dim,
        num_embeddings,
        commitment_cost=0.25,
        ema=True,
        decay=0.99,
        quantizer_dropout=0.0,
        seed=None,
        quantizer_kwargs=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        from vq_zoo.layers.vector_quantizer import VectorQuantizer
        from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

        check_positive_int("num_quantizers", num_quantizers)
        check_real("quantizer_dropout", quantizer_dropout,
                    lambda v: 0 <= v <= 1, "in [0, 1]")
        check_seed(seed)
        quantizer_kwargs = dict(quantizer_kwargs or {})
        for key in ("embedding_dim", "num_embeddings", "commitment_cost",
                    "decay", "seed", "name", "dtype"):
            if key in quantizer_kwargs:
                raise ValueError(
                    f"`quantizer_kwargs` must not hold `{key}`: it is an "
                    "argument of ResidualVectorQuantizer itself (or set by it)."
                )
        if quantizer_kwargs.get("rotation_trick"):
            raise ValueError(
                "ResidualVectorQuantizer does not take `rotation_trick`: the "
                "gradient of a sum of stages is passed straight through."
            )
        self.num_quantizers = num_quantizers
        self.embedding_dim = embedding_dim
        self.num_embeddings = num_embeddings
        self.commitment_cost = float(commitment_cost)
        self.ema = bool(ema)
        self.decay = float(decay)
        self.quantizer_dropout = float(quantizer_dropout)
        self.seed = seed
        self.quantizer_kwargs = quantizer_kwargs
        cls = VectorQuantizerEMA if self.ema else VectorQuantizer
        extra = {"decay": decay} if self.ema else {}
        # float32 stages: a bfloat16 residual would lose the fine stages.
        self.stages = [
            cls(embedding_dim=embedding_dim, num_embeddings=num_embeddings,
                commitment_cost=commitment_cost,
                seed=None if seed is None else seed + i,
                name=f"stage_{i}", dtype="float32", **extra, **quantizer_kwargs)
            for i in range(num_quantizers)
        ]
        if self.quantizer_dropout > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        qo.check_input_shape(self, input_shape, self.embedding_dim)
        for stage in self.stages:
            stage.build(input_shape)

    def __call__(self, inputs, *args, **kwargs):
        qo.check_float_input(self, inputs, self.embedding_dim)
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_spec(self, inputs, training=None):
        n, k = self.num_quantizers, self.num_embeddings
        return qo.output_spec(
            self, inputs, tuple(inputs.shape[:-1]) + (n,), k,
            extra=[("stage_code_counts", (n, k)), ("stage_perplexity", (n,))])

    def _active_stages(self):
        """float32 scalar: the number of stages this training batch uses."""
        n = self.num_quantizers
        u = keras.random.uniform((2,), seed=self.seed_generator)
        drawn = ops.minimum(ops.floor(u[1] * n) + 1.0, float(n))
        return ops.where(u[0] < self.quantizer_dropout, drawn, float(n))

    def call(self, inputs, training=None):
        qo.check_input_shape(self, inputs.shape, self.embedding_dim)
        x = ops.cast(inputs, "float32")
        dropout = bool(training) and self.trainable and self.quantizer_dropout > 0
        if dropout:
            active = self._active_stages()
        residual = x
        total = ops.zeros_like(x)
        losses = {"codebook_loss": 0.0, "commitment_loss": 0.0}
        indices, stage_counts, skipped = [], [], ops.zeros((), "float32")
        for i, stage in enumerate(self.stages):
            out = stage(residual, training=training)
            e = ops.stop_gradient(ops.cast(out["quantized"], "float32"))
            used = ops.cast(i < active, "float32") if dropout else 1.0
            total = total + used * e
            for key in losses:
                losses[key] = losses[key] + used * out[key]
            residual = residual - e
            indices.append(out["encoding_indices"])
            stage_counts.append(out["code_counts"])
            skipped = ops.maximum(skipped, out["update_skipped"])
        stage_counts = ops.stack(stage_counts)
        counts = ops.sum(stage_counts, axis=0)
        quantized = x + ops.stop_gradient(total - x)
        return {
            "quantized": ops.cast(quantized, self.compute_dtype),
            "encoding_indices": ops.stack(indices, axis=-1),
            "loss": losses["codebook_loss"] + losses["commitment_loss"],
            "codebook_loss": ops.convert_to_tensor(losses["codebook_loss"], "float32"),
            "commitment_loss": ops.convert_to_tensor(losses["commitment_loss"], "float32"),
            "perplexity": qo.perplexity(counts),
            "code_counts": counts,
            "update_skipped": skipped,
            "stage_code_counts": stage_counts,
            "stage_perplexity": qo.perplexity(stage_counts),
        }

    # ----------------------------------------------------------- public API
    def encode(self, inputs):
        """Vectors (last axis `embedding_dim`) to int32 codes
        `(..., num_quantizers)`, without touching any state."""
        inputs = ops.convert_to_tensor(inputs)
        qo.check_float_input(self, inputs, self.embedding_dim)
        qo.check_input_shape(self, inputs.shape, self.embedding_dim)
        if not self.built:
            self.build(inputs.shape)
        residual = ops.cast(inputs, "float32")
        codes = []
        for stage in self.stages:
            idx = stage.encode(residual)
            residual = residual - ops.cast(stage.lookup(idx), "float32")
            codes.append(idx)
        return ops.stack(codes, axis=-1)

    def lookup(self, indices):
        """Codes `(..., n)` of the first `n <= num_quantizers` stages to the
        sum of their vectors, `(..., embedding_dim)`, in the compute dtype."""
        indices = qo.check_indices(self, ops.convert_to_tensor(indices),
                                   self.num_embeddings, last_axis=self.num_quantizers)
        if not self.built:
            raise ValueError(
                "ResidualVectorQuantizer has no codebooks yet: build it (call "
                "it on a batch or call `build(input_shape)`) first."
            )
        total = 0.0
        for i in range(indices.shape[-1]):
            total = total + ops.cast(self.stages[i].lookup(indices[..., i]), "float32")
        return ops.cast(total, self.compute_dtype)

    @property
    def codebook(self):
        """float32 `(num_quantizers * num_embeddings, code size)`: every
        stage's codebook, first stage first."""
        return ops.concatenate([qo.read_value(s.codebook) for s in self.stages], axis=0)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_quantizers": self.num_quantizers,
            "embedding_dim": self.embedding_dim,
            "num_embeddings": self.num_embeddings,
            "commitment_cost": self.commitment_cost,
            "ema": self.ema,
            "decay": self.decay,
            "quantizer_dropout": self.quantizer_dropout,
            "seed": self.seed,
            "quantizer_kwargs": dict(self.quantizer_kwargs),
        })
        return config


__all__ = ["ResidualVectorQuantizer"]
