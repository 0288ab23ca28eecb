"""Vector quantiser with an exponential-moving-average codebook (VQ-VAE,
appendix A.1)."""

import keras
from keras import ops

from vq_zoo.layers.base_vector_quantizer import BaseVectorQuantizer
from vq_zoo.utils.checks import check_real
from vq_zoo.utils.distribute import cross_replica_sum


@keras.saving.register_keras_serializable(package="vq_zoo")
class VectorQuantizerEMA(BaseVectorQuantizer):
    """Vector quantiser whose codebook follows moving averages (eqs. 6-8).

    The codebook is not trained by gradient. In training (`training=True`
    while the layer is trainable) each step updates

        N_i <- decay * N_i + (1 - decay) * n_i            (eq. 6)
        m_i <- decay * m_i + (1 - decay) * sum_j z_e,ij   (eq. 7)
        e_i <- m_i / N_i                                   (eq. 8)

    with both averages bias-corrected as in Sonnet's `VectorQuantizerEMA`
    (divided by `1 - decay ** t` after `t` updates) and `N` Laplace-smoothed
    with `epsilon`. Only the commitment loss is returned (`codebook_loss` is
    zero). Under `tf.distribute` the counts `n_i` and sums are all-reduced
    across replicas before the update, so every replica holds the same
    codebook, which equals the one a single device gets on the global batch.
    The statistics are kept in float32 under any mixed-precision policy.
    A batch holding NaN or Inf (on any replica) leaves the averages and the
    codebook bit for bit as they were and sets the output `"update_skipped"`
    to 1.0; an empty batch leaves them as they were too.

    Shape contract: as `VectorQuantizer`.

    Args:
        embedding_dim: int, size of each code vector (the input's last axis).
        num_embeddings: int, number of codes `K`.
        commitment_cost: float, `beta`. Defaults to 0.25.
        decay: float in [0, 1], decay of the moving averages. Defaults to
            0.99. With 1.0 the codebook never moves.
        epsilon: float > 0, Laplace smoothing of the cluster sizes.
        **kwargs: the remedies, options (`rotation_trick`,
            `use_cosine_similarity`, `codebook_dim`) and other arguments of
            `VectorQuantizer`. With `use_cosine_similarity` the averages are
            of l2-normalised vectors and the codebook is normalised at use;
            with `codebook_dim` they live in the projected space.

    Example:
    >>> vq = VectorQuantizerEMA(embedding_dim=8, num_embeddings=32)
    >>> out = vq(keras.random.normal((2, 16, 8)), training=True)
    >>> float(out["codebook_loss"])
    0.0

    References:
        van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
        Learning. arXiv:1711.00937, appendix A.1.
    """

    codebook_trainable = False

    def __init__(
        self,
        embedding_dim,
        num_embeddings,
        commitment_cost=0.25,
        decay=0.99,
        epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(
            embedding_dim=embedding_dim,
            num_embeddings=num_embeddings,
            commitment_cost=commitment_cost,
            **kwargs,
        )
        check_real("decay", decay, lambda v: 0 <= v <= 1, "in [0, 1]")
        check_real("epsilon", epsilon, lambda v: v > 0, "> 0")
        self.decay = float(decay)
        self.epsilon = float(epsilon)

    def _build_state(self):
        k, d = self.num_embeddings, self.code_dim
        # The un-debiased ("hidden") accumulators of Sonnet's
        # ExponentialMovingAverage, and the number of updates so far.
        self.ema_cluster_size_hidden = self._state_weight("ema_cluster_size_hidden", (k,))
        self.ema_dw_hidden = self._state_weight("ema_dw_hidden", (k, d))
        self.ema_count = self._state_weight("ema_count", ())

    @property
    def ema_cluster_size(self):
        """Bias-corrected moving average of the cluster sizes `N`."""
        return self.ema_cluster_size_hidden / self._debias()

    @property
    def ema_dw(self):
        """Bias-corrected moving average of the cluster sums `m`."""
        return self.ema_dw_hidden / self._debias()

    def _debias(self):
        return ops.maximum(1.0 - ops.power(self.decay, self.ema_count), 1e-30)

    def _codebook_from_state(self, hidden_n, hidden_dw, count):
        bias = 1.0 - ops.power(self.decay, count)
        cluster_size = hidden_n / bias
        dw = hidden_dw / bias
        n = ops.sum(cluster_size)
        smoothed = (
            (cluster_size + self.epsilon)
            / (n + self.num_embeddings * self.epsilon)
            * n
        )
        return dw / smoothed[:, None]

    def _update_codebook(self, flat, indices, counts, apply):
        if self.decay == 1.0:
            return ops.zeros((), "bool")  # the averages never move
        dw = cross_replica_sum(
            ops.segment_sum(
                ops.stop_gradient(flat), indices, num_segments=self.num_embeddings
            )
        )
        count = self.ema_count + 1.0
        rate = 1.0 - self.decay
        hidden_n = self.ema_cluster_size_hidden + rate * (
            counts - self.ema_cluster_size_hidden
        )
        hidden_dw = self.ema_dw_hidden + rate * (dw - self.ema_dw_hidden)
        # All four move together or not at all (see `_commit`): a NaN vector
        # would otherwise stay in its code's averages for good.
        return self._commit(
            apply,
            [
                (self.ema_count, count),
                (self.ema_cluster_size_hidden, hidden_n),
                (self.ema_dw_hidden, hidden_dw),
                (self.codebook, self._codebook_from_state(hidden_n, hidden_dw, count)),
            ],
        )

    def _after_kmeans(self, done, counts, sums):
        # Start the averages as if one update had seen the k-means clusters,
        # so the first real update blends with them instead of replacing them.
        if self.decay == 1.0:
            return []
        rate = 1.0 - self.decay
        return [
            (
                self.ema_cluster_size_hidden,
                ops.where(done, self.ema_cluster_size_hidden, rate * counts),
            ),
            (self.ema_dw_hidden, ops.where(done, self.ema_dw_hidden, rate * sums)),
            (self.ema_count, ops.where(done, self.ema_count, 1.0)),
        ]

    def _after_restart(self, dead, fresh):
        # Reset the averages of restarted codes to one member at the new
        # vector; otherwise the next update pulls them straight back to their
        # old (dead) statistics and undoes the restart.
        if self.decay == 1.0:
            return []
        bias = 1.0 - ops.power(self.decay, ops.maximum(self.ema_count, 1.0))
        return [
            (self.ema_count, ops.maximum(self.ema_count, 1.0)),
            (
                self.ema_cluster_size_hidden,
                ops.where(dead, bias, self.ema_cluster_size_hidden),
            ),
            (
                self.ema_dw_hidden,
                ops.where(dead[:, None], fresh * bias, self.ema_dw_hidden),
            ),
        ]

    def get_config(self):
        config = super().get_config()
        config.update({"decay": self.decay, "epsilon": self.epsilon})
        return config


__all__ = ["VectorQuantizerEMA"]
