"""The two opt-in remedies for codebook collapse of the VQ layers:
k-means initialisation of the codebook and dead-code restarts.

Both draw encoder outputs from the global batch with the layer's seed
generator, whose state is the same on every replica, so every replica makes
the same codebook, equal to the one a single device makes from the whole
batch. Both write the layer's state only through its `_commit`, so a step
with non-finite input or a non-finite result leaves it as it was.
"""

import keras
from keras import ops

from vq_zoo.layers.nearest_code import nearest_code
from vq_zoo.utils.distribute import cross_replica_sum
from vq_zoo.utils.distribute import replica_row_offset


class CodebookRemedies:
    """k-means initialisation and dead-code restarts for a codebook layer.

    A mixin of `BaseVectorQuantizer`, which provides what these methods read:
    `num_embeddings`, `code_dim`, `distance_chunk_size`, `kmeans_init`,
    `kmeans_iters`, `dead_code_threshold`, `dead_code_decay`, the
    `seed_generator`, the `codebook` variable, the state variables
    `initialized` (with `kmeans_init`) and `code_usage_hidden` /
    `code_usage_count` (with `dead_code_threshold > 0`), and
    `_commit(apply, updates)`. Subclasses seed their own statistics through
    `_after_kmeans` and `_after_restart`.

    References:
        Dhariwal et al. Jukebox: A Generative Model for Music.
        arXiv:2005.00341 (codebook restarts).
        Zeghidour et al. SoundStream. arXiv:2107.03312 (k-means
        initialisation, expired-code replacement).
    """

    def _remedies_draw_random(self):
        """Whether a remedy is on, so training draws from `seed_generator`."""
        return self.kmeans_init or self.dead_code_threshold > 0

    def _uniform_indices(self, num, upper):
        """`num` int32 indices uniform in [0, upper), same on every replica
        (the seed generator's state is the same on every replica)."""
        u = keras.random.uniform((num,), seed=self.seed_generator)
        upper = ops.cast(upper, "float32")
        idx = ops.cast(ops.floor(u * upper), "int32")
        return ops.minimum(idx, ops.cast(upper, "int32") - 1)

    def _gather_candidates(self, flat, num):
        """`num` rows drawn uniformly from the global batch, the same on every
        replica and the same as one device would draw from the whole batch:
        row indices come from the shared seed, each replica fills in the rows
        it holds, and a sum across replicas assembles the pool."""
        n_local = ops.shape(flat)[0]
        n_global = cross_replica_sum(ops.cast(n_local, "float32"))
        picked = ops.cast(self._uniform_indices(num, n_global), "float32")
        local = picked - replica_row_offset(n_local)
        mine = ops.logical_and(local >= 0, local < ops.cast(n_local, "float32"))
        local = ops.clip(ops.cast(local, "int32"), 0, ops.maximum(n_local - 1, 0))
        # A replica (or a batch) with no rows has nothing to gather from.
        rows = ops.cond(
            n_local > 0,
            lambda: ops.take(ops.stop_gradient(flat), local, axis=0),
            lambda: ops.zeros((num, self.code_dim), flat.dtype),
        )
        rows = ops.where(mine[:, None], rows, ops.zeros_like(rows))
        return cross_replica_sum(rows)

    def _kmeans(self, samples):
        k = self.num_embeddings
        centroids = samples[:k]  # the pool is already in random order
        counts = sums = None
        for _ in range(self.kmeans_iters):
            idx = nearest_code(samples, centroids, self.distance_chunk_size)
            counts = ops.segment_sum(
                ops.ones_like(idx, dtype="float32"), idx, num_segments=k
            )
            sums = ops.segment_sum(samples, idx, num_segments=k)
            means = sums / ops.maximum(counts, 1.0)[:, None]
            centroids = ops.where(counts[:, None] > 0, means, centroids)
        return centroids, counts, sums

    def _maybe_kmeans_init(self, flat, apply):
        """On the first training call that `apply`s, sets the codebook to
        k-means centroids of encoder outputs pooled from every replica.
        Returns whether a non-finite initialisation was refused."""
        k = self.num_embeddings
        # 4 samples a code gives k-means something to average; the pool is
        # drawn with replacement so its shape is static.
        samples = self._gather_candidates(flat, 4 * k)
        batch_size = cross_replica_sum(ops.cast(ops.shape(flat)[0], "float32"))
        done = self.initialized > 0

        def init():
            centroids, counts, sums = self._kmeans(samples)
            scale = batch_size / ops.cast(ops.shape(samples)[0], "float32")
            return centroids, counts * scale, sums * scale

        def keep():
            codebook = ops.convert_to_tensor(self.codebook)
            return codebook, ops.zeros((k,)), ops.zeros((k, self.code_dim))

        centroids, counts, sums = ops.cond(done, keep, init)
        updates = [(self.codebook, centroids)]
        updates += self._after_kmeans(done, counts, sums)
        updates.append((self.initialized, ops.ones(())))
        return self._commit(apply, updates)

    def _after_kmeans(self, done, counts, sums):
        """Subclasses seed their statistics from the k-means clusters:
        returns `(variable, new value)` pairs, committed with the codebook."""
        return []

    @property
    def code_usage(self):
        """Moving average of each code's count per training step (global
        batch), bias-corrected; defined when `dead_code_threshold > 0`."""
        bias = 1.0 - ops.power(self.dead_code_decay, self.code_usage_count)
        return self.code_usage_hidden / ops.maximum(bias, 1e-30)

    def _restart_dead_codes(self, flat, counts, apply):
        """Re-seeds codes whose usage has fallen below `dead_code_threshold`
        with encoder outputs drawn from the current (global) batch. Runs after
        `_update_codebook`, from the codebook it left; only where `apply`.
        Returns whether a non-finite restart was refused."""
        k = self.num_embeddings
        decay = self.dead_code_decay
        count = self.code_usage_count + 1.0
        bias = 1.0 - ops.power(decay, count)
        hidden = decay * self.code_usage_hidden + (1.0 - decay) * counts
        dead = hidden / bias < self.dead_code_threshold
        fresh = self._gather_candidates(flat, k)
        # A restarted code starts from a fair share of usage, so it is not
        # restarted again before it has had a chance to be picked.
        fair_share = ops.sum(counts) / k
        updates = [
            (self.code_usage_count, count),
            (self.code_usage_hidden, ops.where(dead, fair_share * bias, hidden)),
            (
                self.codebook,
                ops.where(
                    dead[:, None], fresh, ops.convert_to_tensor(self.codebook)
                ),
            ),
        ]
        updates += self._after_restart(dead, fresh)
        return self._commit(apply, updates)

    def _after_restart(self, dead, fresh):
        """Subclasses reset the state of restarted codes here: returns
        `(variable, new value)` pairs, committed with the restart."""
        return []


__all__ = ["CodebookRemedies"]
