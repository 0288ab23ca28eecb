"""The layer both vector quantizers share: codebook, straight-through
output, losses, statistics, `encode` / `lookup`, input checks and the guarded
state update. The nearest-code search lives in `nearest_code.py` and the
collapse remedies (k-means initialisation, dead-code restarts) in
`codebook_remedies.py`."""

import keras
import numpy as np
from keras import ops

from vq_zoo.layers.codebook_remedies import CodebookRemedies
from vq_zoo.layers.nearest_code import code_counts
from vq_zoo.layers.nearest_code import l2_normalize
from vq_zoo.layers.nearest_code import nearest_code
from vq_zoo.layers.quantizer_outputs import concrete_numpy
from vq_zoo.layers.quantizer_outputs import is_integer_dtype
from vq_zoo.layers.quantizer_outputs import read_value
from vq_zoo.utils.checks import check_bool
from vq_zoo.utils.checks import check_positive_int
from vq_zoo.utils.checks import check_real
from vq_zoo.utils.checks import check_seed
from vq_zoo.utils.distribute import cross_replica_sum


def _rotate_gradient(e, q, g):
    """The rotation trick's gradient at `e` (rows of `(N, D)`): with
    `lambda = |q| / |e|` and `R` the rotation in the plane of `e` and `q` that
    takes `e / |e|` to `q / |q|`, `R = I - 2 r r^T + 2 q^ e^^T` where
    `r = (e^ + q^) / |e^ + q^|` (arXiv 2410.06424, eq. 4.2), the output is
    `lambda R e = q` and its gradient `lambda R^T g`. Computed per row without
    forming `R`: `lambda (g - 2 r (r . g) + 2 e^ (q^ . g))`."""
    e_norm = ops.sqrt(ops.maximum(ops.sum(ops.square(e), -1, keepdims=True), 1e-12))
    q_norm = ops.sqrt(ops.maximum(ops.sum(ops.square(q), -1, keepdims=True), 1e-12))
    e_hat = e / e_norm
    q_hat = q / q_norm
    r = l2_normalize(e_hat + q_hat)
    rg = ops.sum(r * g, -1, keepdims=True)
    qg = ops.sum(q_hat * g, -1, keepdims=True)
    return (q_norm / e_norm) * (g - 2.0 * r * rg + 2.0 * e_hat * qg)


class BaseVectorQuantizer(CodebookRemedies, keras.layers.Layer):
    """Nearest-neighbour quantisation of the last axis onto a codebook.

    The subclasses differ only in how the codebook learns: by gradient
    (`VectorQuantizer`) or by exponential moving averages
    (`VectorQuantizerEMA`). This base class owns the codebook, the
    nearest-code search (in float32, chunked over the codebook for large `K`),
    the straight-through output, the losses, the perplexity, `lookup()`, and
    the two opt-in remedies for codebook collapse (k-means initialisation and
    dead-code restarts, from `CodebookRemedies`), which give the same codebook
    on every replica.

    The layer returns a dict:
    - `"quantized"`: straight-through output `z_e + stop_gradient(z_q - z_e)`,
      same shape and dtype as the input;
    - `"encoding_indices"`: int32 indices, the input shape without its last
      axis;
    - `"loss"`: `codebook_loss + commitment_loss`;
    - `"codebook_loss"`: `mean((stop_gradient(z_e) - z_q) ** 2)` (zero for the
      EMA layer, whose codebook does not learn by gradient);
    - `"commitment_loss"`: `commitment_cost * mean((z_e - stop_gradient(z_q)) ** 2)`;
    - `"perplexity"`: `exp(entropy)` of the code frequencies in the batch
      (the global batch under `tf.distribute`);
    - `"code_counts"`: float32 `(num_embeddings,)` code counts in the batch
      (the global batch under `tf.distribute`);
    - `"update_skipped"`: float32 scalar, 1.0 when this training step left
      the layer's state untouched because its input held a NaN or Inf (on
      any replica) or an update would have been non-finite, else 0.0 (always
      0.0 outside training). Models log it as `skipped_updates`.

    Losses are means over every element, as in Sonnet.

    Three opt-in options change the geometry (all off by default, where the
    layer is the paper's):
    - `codebook_dim`: codes live in a `codebook_dim`-dimensional space;
      inputs are projected into it by a learned `project_in` (Dense) before
      the search and the quantised vectors back to `embedding_dim` by
      `project_out` (Yu et al. 2021, arXiv 2110.04627: low-dimensional
      codebooks). Losses and EMA statistics live in the code space.
    - `use_cosine_similarity`: inputs and codes are l2-normalised before the
      search, so the nearest code is the one of highest cosine similarity;
      the quantised vectors are unit vectors (also arXiv 2110.04627).
    - `rotation_trick`: the forward pass is plain VQ's, but the gradient
      reaching `z_e` is the upstream gradient at `z_q` rotated (and scaled)
      by the rotation that takes `z_e` to `z_q` (treated as a constant),
      instead of copied unchanged (Fifty et al. 2024, arXiv 2410.06424).

    Non-finite input never reaches the state: a training step whose global
    batch holds any NaN or Inf leaves the codebook, the EMA statistics, the
    k-means and dead-code state and the sampling state bit for bit as they
    were (its losses are NaN, so the model's training step skips its
    optimizer update too). The decision is all-reduced first, so every
    replica takes it alike. An empty batch is a no-op for the state.
    """

    codebook_trainable = True

    def __init__(
        self,
        embedding_dim,
        num_embeddings,
        commitment_cost=0.25,
        embeddings_initializer=None,
        kmeans_init=False,
        kmeans_iters=10,
        dead_code_threshold=0.0,
        dead_code_decay=0.99,
        distance_chunk_size=None,
        seed=None,
        rotation_trick=False,
        use_cosine_similarity=False,
        codebook_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Bools are ints in Python: `embedding_dim=True` would otherwise pass
        # as 1 and `commitment_cost=True` as 1.0; every check refuses them.
        check_positive_int("embedding_dim", embedding_dim)
        check_positive_int("num_embeddings", num_embeddings)
        check_positive_int("kmeans_iters", kmeans_iters)
        if distance_chunk_size is not None:
            check_positive_int("distance_chunk_size", distance_chunk_size)
        check_real("commitment_cost", commitment_cost, lambda v: v >= 0, ">= 0")
        check_real("dead_code_threshold", dead_code_threshold,
                    lambda v: v >= 0, ">= 0 (0 turns restarts off)")
        check_real("dead_code_decay", dead_code_decay,
                    lambda v: 0 <= v < 1, "in [0, 1)")
        if not isinstance(kmeans_init, (bool, np.bool_)):
            raise ValueError(
                "`kmeans_init` must be True or False. "
                f"Received: kmeans_init={kmeans_init!r}"
            )
        check_seed(seed)
        check_bool("rotation_trick", rotation_trick)
        check_bool("use_cosine_similarity", use_cosine_similarity)
        if codebook_dim is not None:
            check_positive_int("codebook_dim", codebook_dim)
        self.rotation_trick = bool(rotation_trick)
        self.use_cosine_similarity = bool(use_cosine_similarity)
        self.codebook_dim = codebook_dim
        self.embedding_dim = embedding_dim
        self.num_embeddings = num_embeddings
        self.commitment_cost = float(commitment_cost)
        if embeddings_initializer is None:
            # Sonnet's default: uniform with variance 1 / embedding_dim.
            embeddings_initializer = keras.initializers.VarianceScaling(
                scale=1.0, mode="fan_out", distribution="uniform", seed=seed
            )
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.kmeans_init = bool(kmeans_init)
        self.kmeans_iters = kmeans_iters
        self.dead_code_threshold = float(dead_code_threshold)
        self.dead_code_decay = float(dead_code_decay)
        self.distance_chunk_size = distance_chunk_size
        self.seed = seed
        if self.kmeans_init or self.dead_code_threshold > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def code_dim(self):
        """Size of the code vectors: `codebook_dim`, else `embedding_dim`."""
        return self.codebook_dim or self.embedding_dim

    @property
    def projected(self):
        """Whether inputs are projected into a space of other size."""
        return self.code_dim != self.embedding_dim

    # ------------------------------------------------------------------ build
    def _check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of rank >= 2 whose "
                "last axis holds the vectors to quantise, e.g. (batch, time, "
                f"{self.embedding_dim}) or (batch, height, width, "
                f"{self.embedding_dim}). Received shape {tuple(input_shape)}"
            )
        if input_shape[-1] is not None and input_shape[-1] != self.embedding_dim:
            raise ValueError(
                f"{self.__class__.__name__}: the last axis of the input must "
                f"equal `embedding_dim`={self.embedding_dim}. Received shape "
                f"{tuple(input_shape)} (last axis {input_shape[-1]})"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        self.codebook = self.add_weight(
            name="codebook",
            shape=(self.num_embeddings, self.code_dim),
            initializer=self.embeddings_initializer,
            trainable=self.codebook_trainable,
            dtype="float32",
            autocast=False,
        )
        if self.kmeans_init:
            self.initialized = self._state_weight("initialized", ())
        if self.dead_code_threshold > 0:
            # Bias-corrected moving average of each code's count per step,
            # kept as Sonnet keeps its EMAs: an un-debiased accumulator and
            # the number of updates.
            self.code_usage_hidden = self._state_weight(
                "code_usage_hidden", (self.num_embeddings,)
            )
            self.code_usage_count = self._state_weight("code_usage_count", ())
        if self.projected:
            # float32 under any policy: the search sees float32 vectors.
            self.project_in = keras.layers.Dense(
                self.code_dim, dtype="float32", name="project_in"
            )
            self.project_in.build((None, self.embedding_dim))
            self.project_out = keras.layers.Dense(
                self.embedding_dim, dtype="float32", name="project_out"
            )
            self.project_out.build((None, self.code_dim))
        self._build_state()

    def _to_code_space(self, flat):
        """`(N, embedding_dim)` float32 inputs to the vectors searched:
        projected by `project_in` and/or l2-normalised."""
        if self.projected:
            flat = self.project_in(flat)
        if self.use_cosine_similarity:
            flat = l2_normalize(flat)
        return flat

    def _search_codebook(self, codebook):
        """The codebook as searched (l2-normalised with cosine similarity)."""
        return l2_normalize(codebook) if self.use_cosine_similarity else codebook

    def _state_weight(self, name, shape):
        """A zero-initialised, non-trainable float32 state variable (kept in
        float32 under any dtype policy)."""
        return self.add_weight(
            name=name,
            shape=shape,
            initializer="zeros",
            trainable=False,
            dtype="float32",
            autocast=False,
        )

    def _build_state(self):
        """Subclasses add their own non-trainable state here."""

    # --------------------------------------------------------------- checks
    def _check_float_input(self, inputs):
        dtype = getattr(inputs, "dtype", None)
        if dtype is None:
            try:
                dtype = np.asarray(inputs).dtype
            except Exception:  # nested tensors: Keras converts them later
                return
        if is_integer_dtype(dtype):
            raise ValueError(
                f"{self.__class__.__name__} expects floating-point vectors "
                f"(encoder outputs, last axis embedding_dim="
                f"{self.embedding_dim}), got "
                f"{keras.backend.standardize_dtype(dtype)}. To map integer "
                "code indices to vectors use `lookup(indices)`."
            )

    def _check_finite_vectors(self, x, where):
        """Refuses non-finite vectors of `x` (float32, `(..., D)`), which
        have no nearest code. Eagerly: a `ValueError` giving how many vectors
        and the first positions. In a graph: a `tf.debugging` assertion that
        fails at run time with the same explanation."""
        name = f"{self.__class__.__name__}.{where}"
        hint = (
            "they have no nearest code. Check the encoder's outputs and the "
            "data for NaN or Inf (e.g. a diverged encoder, or unnormalised "
            "data)."
        )
        if isinstance(x, keras.KerasTensor):
            return x
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if not tf.executing_eagerly():
                check = tf.debugging.assert_all_finite(
                    x, f"{name}: the input holds non-finite (NaN or Inf) "
                    f"values; {hint}",
                )
                with tf.control_dependencies([check]):
                    return tf.identity(x)
        bad = ops.logical_not(ops.all(ops.isfinite(x), axis=-1))
        mask = concrete_numpy(bad)
        if mask is None or not mask.any():
            return x
        positions = np.argwhere(mask)
        shown = ", ".join(str(tuple(int(i) for i in p)) for p in positions[:5])
        more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
        raise ValueError(
            f"{name}: {len(positions)} of {mask.size} input vectors hold "
            f"non-finite (NaN or Inf) values, at positions {shown}{more} "
            f"(indices over the input shape without its last axis); {hint}"
        )

    def _check_indices(self, indices):
        if not is_integer_dtype(indices.dtype):
            raise ValueError(
                "Code indices must be integers in [0, num_embeddings="
                f"{self.num_embeddings}); received dtype {indices.dtype}"
            )
        value = concrete_numpy(indices)
        if value is not None and value.size:
            lo, hi = int(value.min()), int(value.max())
            if lo < 0 or hi >= self.num_embeddings:
                raise ValueError(
                    "Code indices out of range: expected values in [0, "
                    f"num_embeddings={self.num_embeddings}), received min "
                    f"{lo} and max {hi}"
                )
        elif keras.backend.backend() == "tensorflow" and not isinstance(
            indices, keras.KerasTensor
        ):
            # Inside a graph the values are unknown until run time: check
            # them then, before the gather can fail with a vaguer message.
            import tensorflow as tf

            checks = [
                tf.debugging.assert_less(
                    tf.cast(indices, "int64"),
                    tf.constant(self.num_embeddings, "int64"),
                    message="Code indices out of range [0, num_embeddings)",
                ),
                tf.debugging.assert_non_negative(
                    indices, message="Code indices must be >= 0"
                ),
            ]
            with tf.control_dependencies(checks):
                indices = tf.identity(indices)
        return indices

    # -------------------------------------------------------------- search
    def _nearest(self, flat, codebook):
        """Index of the nearest code for each row of `flat` (float32); see
        `vq_zoo.layers.nearest_code.nearest_code`."""
        return nearest_code(flat, codebook, self.distance_chunk_size)

    def _counts(self, indices):
        return code_counts(indices, self.num_embeddings)

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, *args, **kwargs):
        # Keras casts and wraps errors raised in `call` under its own
        # "Exception encountered when calling ..." line: refuse integer
        # input here first, with the message that says what to do.
        self._check_float_input(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_spec(self, inputs, training=None):
        index_shape = tuple(inputs.shape[:-1])
        scalar = keras.KerasTensor((), dtype="float32")
        return {
            "quantized": keras.KerasTensor(inputs.shape, dtype=self.compute_dtype),
            "encoding_indices": keras.KerasTensor(index_shape, dtype="int32"),
            "loss": scalar,
            "codebook_loss": scalar,
            "commitment_loss": scalar,
            "perplexity": scalar,
            "code_counts": keras.KerasTensor(
                (self.num_embeddings,), dtype="float32"
            ),
            "update_skipped": scalar,
        }

    def call(self, inputs, training=None):
        self._check_float_input(inputs)
        self._check_input_shape(inputs.shape)
        update = bool(training) and self.trainable
        x = ops.cast(inputs, "float32")
        flat = self._to_code_space(ops.reshape(x, (-1, self.embedding_dim)))

        if update:
            apply, skipped = self._update_guard(flat)
            if self._remedies_draw_random():
                rng_state = read_value(self.seed_generator.state)
        if update and self.kmeans_init:
            skipped = ops.logical_or(
                skipped, self._maybe_kmeans_init(flat, apply)
            )

        codebook = self._search_codebook(read_value(self.codebook))
        flat_indices = self._nearest(
            ops.stop_gradient(flat), ops.stop_gradient(codebook)
        )
        counts = cross_replica_sum(self._counts(flat_indices))

        quantized, codebook_loss, commitment_loss = self._lookup_and_losses(
            flat, codebook, flat_indices
        )
        if self.projected:
            quantized = self.project_out(quantized)
        quantized = ops.reshape(quantized, ops.shape(x))

        if update:
            skipped = ops.logical_or(
                skipped, self._update_codebook(flat, flat_indices, counts, apply)
            )
            if self.dead_code_threshold > 0:
                skipped = ops.logical_or(
                    skipped, self._restart_dead_codes(flat, counts, apply)
                )
            if self._remedies_draw_random():
                # A skipped step leaves even the sampling state as it was, so
                # training continues as if the bad batch had never come.
                state = self.seed_generator.state
                state.assign(ops.where(apply, ops.convert_to_tensor(state), rng_state))
            update_skipped = ops.cast(skipped, "float32")
        else:
            update_skipped = ops.zeros((), "float32")

        probs = counts / ops.maximum(ops.sum(counts), 1.0)
        perplexity = ops.exp(-ops.sum(probs * ops.log(probs + 1e-10)))
        return {
            "quantized": ops.cast(quantized, self.compute_dtype),
            "encoding_indices": ops.reshape(flat_indices, ops.shape(x)[:-1]),
            "loss": codebook_loss + commitment_loss,
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
            "perplexity": perplexity,
            "code_counts": counts,
            "update_skipped": update_skipped,
        }

    # ----------------------------------------------------- update guard
    def _update_guard(self, flat):
        """Whether this training step may update the layer's state.

        Returns `(apply, skipped)`, two boolean scalars, the same on every
        replica: the non-finite flags and row counts of all replicas are
        all-reduced (one reduction over the local batch and one all-reduce
        of two numbers) before deciding. `apply` is False for a batch with
        any NaN or Inf value on any replica (`skipped` is then True) and for
        an empty global batch (a no-op: there is nothing to learn from, and
        averaging over no vectors would give 0 / 0; `skipped` stays False).
        """
        local = ops.stack(
            [
                1.0 - ops.cast(ops.all(ops.isfinite(flat)), "float32"),
                ops.cast(ops.shape(flat)[0], "float32"),
            ]
        )
        total = cross_replica_sum(local)
        skipped = total[0] > 0
        apply = ops.logical_and(ops.logical_not(skipped), total[1] > 0)
        return apply, skipped

    def _commit(self, apply, updates):
        """Assigns each `(variable, value)` of `updates` if `apply` and every
        value is finite; otherwise leaves all of them bit for bit as they
        were. Returns True (a boolean scalar) where an allowed update was
        refused for a non-finite value. The values derive from all-reduced
        statistics, identical on every replica, so the decision is too."""
        finite = apply
        for _, value in updates:
            finite = ops.logical_and(finite, ops.all(ops.isfinite(value)))
        for variable, value in updates:
            variable.assign(
                ops.where(finite, value, ops.convert_to_tensor(variable))
            )
        return ops.logical_and(apply, ops.logical_not(finite))

    def _lookup_and_losses(self, flat, codebook, indices):
        """`z_q`, `codebook_loss`, `commitment_loss` as one op with a
        hand-written gradient. Forward: `z_q = e[indices]` and one mean square
        of `z_e - z_q`. Backward, the straight-through estimator and the two
        stop-gradient losses:
        `d/dz_e = g_q + 2 beta g_commitment (z_e - z_q) / M` and
        `d/de_k = -2 g_codebook sum_{i -> k} (z_e,i - e_k) / M` (zero for the
        EMA layer). Autodiff of `z_e + stop_gradient(z_q - z_e)` and the two
        losses computes `z_e - z_q` twice and tiles each scalar gradient to
        (N, D); this does neither."""
        beta = self.commitment_cost
        k = self.num_embeddings
        trainable = self.codebook_trainable
        rotate = self.rotation_trick

        @ops.custom_gradient
        def lookup_and_losses(flat, codebook):
            q = ops.take(codebook, indices, axis=0)
            diff = flat - q
            # An empty batch has losses 0, not 0 / 0.
            size = ops.maximum(ops.cast(ops.size(diff), "float32"), 1.0)
            mse = ops.sum(ops.square(diff)) / size

            def grad(*args, upstream=None):
                g_q, g_codebook, g_commit = upstream if upstream is not None else args
                if rotate:
                    g_q = _rotate_gradient(flat, q, g_q)
                g_flat = g_q + ((2.0 * beta / size) * g_commit) * diff
                if trainable:
                    g_e = ops.segment_sum(diff, indices, num_segments=k) * (
                        (-2.0 / size) * g_codebook
                    )
                else:
                    g_e = ops.zeros_like(codebook)
                return g_flat, g_e

            codebook_loss = mse if trainable else ops.zeros((), "float32")
            return (q, codebook_loss, beta * mse), grad

        return lookup_and_losses(flat, codebook)

    def _update_codebook(self, flat, indices, counts, apply):
        """Moves the codebook during training (only where `apply`, see
        `_commit`) and returns whether a non-finite update was refused;
        gradient layers do nothing here."""
        return ops.zeros((), "bool")

    # --------------------------------------------------------- public API
    def encode(self, inputs):
        """Maps vectors (last axis `embedding_dim`) to int32 code indices,
        without touching any state.

        A NaN or Inf vector has no nearest code, so it is refused rather than
        given a code: eagerly with a `ValueError` saying how many vectors and
        where; inside a `tf.function` by a `tf.debugging.assert_all_finite`
        check that raises `InvalidArgumentError` when the graph runs."""
        inputs = ops.convert_to_tensor(inputs)
        self._check_float_input(inputs)
        self._check_input_shape(inputs.shape)
        if not self.built:
            self.build(inputs.shape)
        x = self._check_finite_vectors(ops.cast(inputs, "float32"), "encode")
        flat = self._to_code_space(ops.reshape(x, (-1, self.embedding_dim)))
        idx = self._nearest(
            flat, self._search_codebook(ops.convert_to_tensor(self.codebook))
        )
        return ops.reshape(idx, ops.shape(x)[:-1])

    def lookup(self, indices):
        """Maps integer code indices of any shape to their codebook vectors,
        shape `indices.shape + (embedding_dim,)`, in the layer's compute
        dtype."""
        indices = self._check_indices(ops.convert_to_tensor(indices))
        if not self.built:
            raise ValueError(
                f"{self.__class__.__name__} has no codebook yet: build it "
                "(call it on a batch or call `build(input_shape)`) first."
            )
        codebook = self._search_codebook(ops.convert_to_tensor(self.codebook))
        vectors = ops.take(codebook, indices, axis=0)
        if self.projected:
            shape = ops.shape(vectors)
            vectors = self.project_out(ops.reshape(vectors, (-1, self.code_dim)))
            vectors = ops.reshape(vectors, tuple(shape[:-1]) + (self.embedding_dim,))
        return ops.cast(vectors, self.compute_dtype)

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "num_embeddings": self.num_embeddings,
                "commitment_cost": self.commitment_cost,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "kmeans_init": self.kmeans_init,
                "kmeans_iters": self.kmeans_iters,
                "dead_code_threshold": self.dead_code_threshold,
                "dead_code_decay": self.dead_code_decay,
                "distance_chunk_size": self.distance_chunk_size,
                "seed": self.seed,
                "rotation_trick": self.rotation_trick,
                "use_cosine_similarity": self.use_cosine_similarity,
                "codebook_dim": self.codebook_dim,
            }
        )
        return config


__all__ = ["BaseVectorQuantizer"]
