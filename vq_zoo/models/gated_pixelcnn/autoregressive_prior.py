"""Shared machinery of the autoregressive priors over VQ-VAE codes.

Inputs, conditioning, the K-way cross-entropy `train_step`, `log_prob`, and
the two samplers' common frame (per-position Gumbel noise drawn once, so the
cached and the naive sampler make identical draws for the same seed).
"""

import math

import keras
import numpy as np
from keras import ops

from vq_zoo.models.task import Task
from vq_zoo.utils.checks import checked_int_range

METRIC_NAMES = ("loss", "nats_per_code", "bits_per_code")


def resolve_output_filters(output_filters, filters):
    """The output head's hidden width: `output_filters`, or `2 * filters`
    when None; a ValueError unless it is an integer >= 1."""
    output_filters = 2 * filters if output_filters is None else output_filters
    if not isinstance(output_filters, int) or output_filters < 1:
        raise ValueError(
            f"`output_filters` must be None or an integer >= 1, got {output_filters!r}"
        )
    return output_filters


class AutoregressivePrior(Task):
    """Base of `GatedPixelCNNPrior` and `GatedPixelCNN1DPrior`.

    Subclasses create `self.code_embedding`, their blocks and the output
    head (`output_hidden`, `output_logits`), and implement
    `_logits_from_embedded(codes, condition, spatial, training)` (the full
    forward pass from embedded conditions) and the generation protocol of
    `vq_zoo.generation.sampler`: `_initial_state(batch, condition, spatial)`
    (every layer's cache) and `step(prev_codes, state, index) -> (logits,
    state)`, which `sample` drives in one compiled loop.

    Conditioning (any combination):
        - a global vector: `condition_dim` floats per example (one-hot or
          dense), or, with `num_classes`, an int label per example embedded
          in `condition_dim` (default `filters`) dimensions;
        - a spatial map of shape `spatial_condition_shape`, floats with the
          channels last, or, with `spatial_condition_classes`, ints (e.g. the
          upper level's codes) embedded in `filters` channels; a map coarser
          than the codes is upsampled by repetition (integer factors).

    Inputs of `call`, `fit`, `log_prob`: the int codes, or a dict with keys
    `"codes"`, `"condition"`, `"spatial_condition"`.
    """

    rank = None  # 1 or 2, set by the subclass
    # An autoregressive model over integer targets: `VQVAE` teacher-forces
    # such a decoder in training and samples it in `decode`.
    autoregressive = True

    def _init_conditioning(
        self,
        filters,
        condition_dim,
        num_classes,
        spatial_condition_shape,
        spatial_condition_classes,
    ):
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(
                f"`num_classes` must be None or an integer >= 1, got {num_classes!r}"
            )
        if condition_dim is not None and (
            not isinstance(condition_dim, int) or condition_dim < 1
        ):
            raise ValueError(
                f"`condition_dim` must be None or an integer >= 1, got {condition_dim!r}"
            )
        self.num_classes = num_classes
        self.condition_dim = condition_dim
        self.label_embedding = None
        block_condition_dim = condition_dim
        if num_classes is not None:
            block_condition_dim = condition_dim or filters
            self.label_embedding = keras.layers.Embedding(
                num_classes, block_condition_dim, name="label_embedding"
            )
        self.block_condition_dim = block_condition_dim

        self.spatial_condition_classes = spatial_condition_classes
        self.spatial_embedding = None
        self.block_spatial_dim = None
        if spatial_condition_shape is not None:
            spatial_condition_shape = tuple(int(d) for d in spatial_condition_shape)
            grid_rank = self.rank if spatial_condition_classes is not None else self.rank + 1
            if len(spatial_condition_shape) != grid_rank or any(
                d < 1 for d in spatial_condition_shape
            ):
                raise ValueError(
                    "`spatial_condition_shape` must have "
                    f"{grid_rank} positive entries ("
                    + ("the grid" if spatial_condition_classes is not None else "the grid, then channels")
                    + f"), got {spatial_condition_shape!r}"
                )
            grid = spatial_condition_shape[: self.rank]
            for size, target in zip(grid, self.shape):
                if target % size:
                    raise ValueError(
                        "`spatial_condition_shape` must divide the code shape "
                        f"{self.shape} (it is upsampled by repetition), got "
                        f"{spatial_condition_shape!r}"
                    )
            if spatial_condition_classes is not None:
                if not isinstance(spatial_condition_classes, int) or spatial_condition_classes < 1:
                    raise ValueError(
                        "`spatial_condition_classes` must be None or an integer "
                        f">= 1, got {spatial_condition_classes!r}"
                    )
                self.spatial_embedding = keras.layers.Embedding(
                    spatial_condition_classes, filters, name="spatial_embedding"
                )
                self.block_spatial_dim = filters
            else:
                self.block_spatial_dim = spatial_condition_shape[-1]
        elif spatial_condition_classes is not None:
            raise ValueError(
                "`spatial_condition_classes` needs `spatial_condition_shape`."
            )
        self.spatial_condition_shape = spatial_condition_shape

    def _make_layers(self, make_blocks):
        """Creates the prior's layers in the order of its saved variables:
        `code_embedding` (`num_embeddings` codes in `filters` channels), the
        blocks (`self.blocks = make_blocks()`), then the output head,
        `output_hidden` (`output_filters`) and `output_logits`
        (`num_embeddings`). Call after `_init_conditioning` (the blocks
        take its `block_condition_dim` and `block_spatial_dim`)."""
        self.code_embedding = keras.layers.Embedding(
            self.num_embeddings, self.filters, dtype=self.dtype_policy,
            name="code_embedding",
        )
        self.blocks = make_blocks()
        self.output_hidden = keras.layers.Dense(
            self.output_filters, dtype=self.dtype_policy, name="output_hidden"
        )
        self.output_logits = keras.layers.Dense(
            self.num_embeddings, dtype=self.dtype_policy, name="output_logits"
        )

    def _conditioning_config(self):
        return {
            "condition_dim": self.condition_dim,
            "num_classes": self.num_classes,
            "spatial_condition_shape": self.spatial_condition_shape,
            "spatial_condition_classes": self.spatial_condition_classes,
        }

    @property
    def has_condition(self):
        return self.block_condition_dim is not None

    @property
    def has_spatial_condition(self):
        return self.spatial_condition_shape is not None

    # ---------------------------------------------------------- inputs
    def _dummy_inputs(self, batch=1):
        inputs = {"codes": ops.zeros((batch,) + self.shape, "int32")}
        if self.has_condition:
            inputs["condition"] = (
                ops.zeros((batch,), "int32")
                if self.num_classes is not None
                else ops.zeros((batch, self.condition_dim))
            )
        if self.has_spatial_condition:
            inputs["spatial_condition"] = self._dummy_spatial_condition(batch)
        return inputs

    def _dummy_spatial_condition(self, batch):
        return ops.zeros(
            (batch,) + self.spatial_condition_shape,
            "int32" if self.spatial_condition_classes is not None else "float32",
        )

    def build(self, input_shape=None):
        # The shapes are fixed by the config: build every weight eagerly, so a
        # model that is only ever `fit` (custom train_step) saves its weights.
        if self.built:
            return
        self._logits(*self._split(self._dummy_inputs()), training=False)
        self.built = True

    def _split(self, inputs):
        """`(codes, condition, spatial)`, checked, from a tensor or a dict."""
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"codes", "condition", "spatial_condition"}
            if unknown or "codes" not in inputs:
                raise ValueError(
                    "Inputs must be the codes or a dict with keys 'codes', "
                    f"'condition', 'spatial_condition'; got keys {sorted(inputs)}"
                )
            codes = inputs["codes"]
            condition = inputs.get("condition")
            spatial = inputs.get("spatial_condition")
        else:
            codes, condition, spatial = inputs, None, None
        codes = self._check_codes(codes)
        condition, spatial = self._check_condition(
            {"condition": condition, "spatial_condition": spatial}, codes.shape[0]
        )
        return codes, condition, spatial

    def _check_codes(self, codes):
        codes = ops.convert_to_tensor(codes)
        if tuple(codes.shape[1:]) != self.shape:
            raise ValueError(
                f"`codes` must have shape (batch, {', '.join(map(str, self.shape))}), "
                f"got {tuple(codes.shape)}"
            )
        return checked_int_range(codes, self.num_embeddings, "codes")

    def _check_condition(self, condition, batch):
        """Checks a condition given as a tensor (the only kind this model
        takes) or a dict; returns `(global, spatial)` tensors or Nones."""
        if not isinstance(condition, dict):
            if condition is None:
                condition = {}
            elif not (self.has_condition or self.has_spatial_condition):
                raise ValueError(
                    "This prior is unconditional (`condition_dim`, `num_classes` "
                    "and `spatial_condition_shape` are None) but `condition` was "
                    "given."
                )
            elif self.has_condition and self.has_spatial_condition:
                raise ValueError(
                    "This model takes a global and a spatial condition: pass "
                    "`condition` as a dict with keys 'condition' and "
                    "'spatial_condition'."
                )
            elif self.has_condition:
                condition = {"condition": condition}
            else:
                condition = {"spatial_condition": condition}
        glob = self._check_global_condition(condition.get("condition"), batch)
        spatial = self._check_spatial_condition(condition.get("spatial_condition"), batch)
        return glob, spatial

    @staticmethod
    def _batch_ok(x, batch):
        return batch is None or x.shape[0] is None or x.shape[0] == batch

    def _check_global_condition(self, glob, batch):
        """The global condition (labels or vectors), checked, or None."""
        if self.has_condition:
            if glob is None:
                raise ValueError("This model is conditional: pass `condition`.")
            glob = ops.convert_to_tensor(glob)
            if self.num_classes is not None:
                if len(glob.shape) != 1 or not self._batch_ok(glob, batch):
                    raise ValueError(
                        f"`condition` must be int labels of shape ({batch},), "
                        f"got {tuple(glob.shape)}"
                    )
                glob = checked_int_range(glob, self.num_classes, "condition")
            elif (
                len(glob.shape) != 2
                or glob.shape[1] != self.condition_dim
                or not self._batch_ok(glob, batch)
            ):
                raise ValueError(
                    f"`condition` must have shape ({batch}, {self.condition_dim}), "
                    f"got {tuple(glob.shape)}"
                )
        elif glob is not None:
            raise ValueError(
                "This model has no global condition (`condition_dim` and "
                "`num_classes` are None) but `condition` was given."
            )
        return glob

    def _check_spatial_condition(self, spatial, batch):
        """The spatial condition, checked, or None."""
        if self.has_spatial_condition:
            if spatial is None:
                raise ValueError(
                    "This model has a spatial condition: pass `spatial_condition`."
                )
            spatial = ops.convert_to_tensor(spatial)
            if tuple(spatial.shape[1:]) != self.spatial_condition_shape or not self._batch_ok(
                spatial, batch
            ):
                raise ValueError(
                    "`spatial_condition` must have shape "
                    f"({batch}, {', '.join(map(str, self.spatial_condition_shape))}), "
                    f"got {tuple(spatial.shape)}"
                )
            if self.spatial_condition_classes is not None:
                spatial = checked_int_range(
                    spatial, self.spatial_condition_classes, "spatial_condition"
                )
        elif spatial is not None:
            raise ValueError(
                "This model has no spatial condition (`spatial_condition_shape` "
                "is None) but `spatial_condition` was given."
            )
        return spatial

    def _embed_conditions(self, condition, spatial):
        """Global vector `(batch, dim)` and spatial map at the codes'
        resolution `(batch, *shape, dim)`, or Nones."""
        if condition is not None:
            if self.label_embedding is not None:
                condition = self.label_embedding(condition)
            condition = ops.cast(condition, self.compute_dtype)
        if spatial is not None:
            if self.spatial_embedding is not None:
                spatial = self.spatial_embedding(spatial)
            spatial = ops.cast(spatial, self.compute_dtype)
            for axis, target in enumerate(self.shape, start=1):
                factor = target // spatial.shape[axis]
                if factor > 1:
                    spatial = ops.repeat(spatial, factor, axis=axis)
        return condition, spatial

    # ---------------------------------------------------------- forward
    def call(self, inputs, training=None):
        """Logits `(batch, *shape, num_embeddings)` of `p(z_p | z_<p, c)`."""
        return self._logits(*self._split(inputs), training=training)

    def _output_head(self, skip):
        h = self.output_hidden(keras.activations.relu(skip))
        return self.output_logits(keras.activations.relu(h))

    def log_prob(self, inputs):
        """Per-example `log p(z | c)` in nats, shape `(batch,)`."""
        codes, condition, spatial = self._split(inputs)
        logits = ops.cast(self._logits(codes, condition, spatial, training=False), "float32")
        logp = ops.take_along_axis(
            ops.log_softmax(logits, axis=-1), ops.expand_dims(codes, -1), axis=-1
        )
        return ops.sum(ops.reshape(logp, (ops.shape(logp)[0], -1)), axis=-1)

    # ---------------------------------------------------------- training
    def fit(self, x=None, *args, **kwargs):
        # Out-of-range codes in arrays are caught here with a ValueError,
        # before the compiled step (which can only assert).
        if isinstance(x, (np.ndarray, dict)) or ops.is_tensor(x):
            self._split(x)
        return super().fit(x, *args, **kwargs)

    def _unpack(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._split(x)

    def _batch_ranges(self, data):
        # `_split` has checked the ranges (in the graph, behind assertions
        # that the codes, labels and code-map conditions now carry).
        codes, condition, spatial = self._unpack(data)
        ranges = [(codes, self.num_embeddings, "codes")]
        if self.num_classes is not None and condition is not None:
            ranges.append((condition, self.num_classes, "condition"))
        if self.spatial_condition_classes is not None and spatial is not None:
            ranges.append((spatial, self.spatial_condition_classes, "spatial_condition"))
        return ranges

    def _cross_entropy(self, codes, logits):
        return ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                codes, ops.cast(logits, "float32"), from_logits=True
            )
        )

    def compute_loss_terms(self, data, training):
        codes, condition, spatial = self._unpack(data)
        logits = self._logits(codes, condition, spatial, training=training)
        nats = self._cross_entropy(codes, logits)
        scalars = {
            "loss": nats,
            "nats_per_code": nats,
            "bits_per_code": nats / math.log(2.0),
        }
        return scalars, {}

    def predict_step(self, data):
        return self._logits(*self._unpack(data), training=False)

    def _make_trackers(self):
        self._init_trackers(METRIC_NAMES)

    # ---------------------------------------------------------- sampling
    def _check_sample_request(self, num, condition, temperature):
        """`(num, global, spatial)` for a `sample` call, its arguments checked."""
        # numpy integers are ints; bools (also ints to Python) are refused.
        if (
            not isinstance(num, (int, np.integer))
            or isinstance(num, (bool, np.bool_))
            or num < 1
        ):
            raise ValueError(f"`num` must be an integer >= 1, got {num!r}")
        num = int(num)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature!r}")
        conditional = self.has_condition or self.has_spatial_condition
        if conditional and condition is None:
            raise ValueError("This model is conditional: pass `condition`.")
        if not conditional and condition is not None:
            raise ValueError(
                "This prior is unconditional (`condition_dim`, `num_classes` "
                "and `spatial_condition_shape` are None) but `condition` was "
                "given."
            )
        glob, spatial = self._check_condition(condition, num)
        return num, glob, spatial

    def _sample_args(self, num, condition, temperature, seed):
        num, glob, spatial = self._check_sample_request(num, condition, temperature)
        glob, spatial = self._embed_conditions(glob, spatial)
        # Gumbel noise for every position, drawn once: argmax(logits / T + g)
        # is a draw from softmax(logits / T), and both samplers use the same
        # g, so they make identical draws for the same seed.
        from vq_zoo.generation.sampler import gumbel_noise

        noise = gumbel_noise((num,) + self.shape + (self.num_embeddings,), seed)
        return noise, glob, spatial, ops.convert_to_tensor(float(temperature))

    def _compiled(self, name, fn, jit_compile=False):
        from vq_zoo.generation.sampler import compile_loop

        cache = self.__dict__.setdefault("_sampler_fns", {})
        if name not in cache:
            cache[name] = compile_loop(fn, jit_compile=jit_compile)
        return cache[name]

    def sample(self, num, condition=None, temperature=1.0, seed=None):
        """Draws `num` code maps with the cached sampler: the model's `step`
        driven by `vq_zoo.generation.sample_with_cache` in one XLA-compiled
        loop.

        Args:
            num: int, number of samples.
            condition: the condition (a tensor, or a dict with keys
                `"condition"` and `"spatial_condition"`), batch `num`; None for
                an unconditional model.
            temperature: float > 0, divides the logits.
            seed: int or None.

        Returns:
            int32 codes `(num, *shape)`.
        """
        noise, glob, spatial, temperature = self._sample_args(
            num, condition, temperature, seed
        )
        return self._compiled("cached", self._sample_cached, jit_compile=True)(
            noise, glob, spatial, temperature
        )

    def sample_naive(self, num, condition=None, temperature=1.0, seed=None):
        """The reference sampler: one full forward pass per position, in one
        compiled loop. Same arguments and, for the same seed, the same
        samples as `sample`."""
        noise, glob, spatial, temperature = self._sample_args(
            num, condition, temperature, seed
        )
        return self._compiled("naive", self._sample_naive)(
            noise, glob, spatial, temperature
        )

    def _logits(self, codes, condition, spatial, training=None):
        condition, spatial = self._embed_conditions(condition, spatial)
        return self._logits_from_embedded(codes, condition, spatial, training)

    def _logits_from_embedded(self, codes, condition, spatial, training=None):
        """Logits from codes and already embedded conditions."""
        raise NotImplementedError

    # ---------------------------------------------------------- stepping
    def initial_state(self, batch_size, condition=None):
        """The caches of every layer before the first position, for `step`
        (the protocol of `vq_zoo.generation.sampler`).

        Args:
            batch_size: int.
            condition: as in `sample`, batch `batch_size`; None for an
                unconditional model. Its projections are computed here once.

        Returns:
            A nested structure of tensors.
        """
        if (self.has_condition or self.has_spatial_condition) and condition is None:
            raise ValueError("This model is conditional: pass `condition`.")
        glob, spatial = self._check_condition(condition, batch_size)
        return self._initial_state(batch_size, *self._embed_conditions(glob, spatial))

    def _initial_state(self, batch_size, condition, spatial):
        """`initial_state` from already embedded conditions."""
        raise NotImplementedError

    def step(self, prev_codes, state, index):
        """`(logits, state)` at position `index` (flat, generation order)
        from the codes drawn at `index - 1`; see `vq_zoo.generation.sampler`."""
        raise NotImplementedError

    def _sample_cached(self, noise, condition, spatial, temperature):
        from vq_zoo.generation.sampler import sample_with_cache

        num = noise.shape[0]
        positions = int(np.prod(self.shape))
        codes = sample_with_cache(
            self.step,
            self._initial_state(num, condition, spatial),
            ops.reshape(noise, (num, positions, self.num_embeddings)),
            temperature,
        )
        return ops.reshape(codes, (num,) + self.shape)

    def _sample_naive(self, noise, condition, spatial, temperature):
        num = ops.shape(noise)[0]
        positions = int(np.prod(self.shape))
        flat_noise = ops.reshape(noise, (num, positions, self.num_embeddings))

        def body(p, codes):
            logits = self._logits_from_embedded(
                ops.reshape(codes, (num,) + self.shape), condition, spatial
            )
            logits = ops.reshape(
                ops.cast(logits, "float32"), (num, positions, self.num_embeddings)
            )
            scores = ops.take(logits, p, axis=1) / temperature + ops.take(
                flat_noise, p, axis=1
            )
            code = ops.cast(ops.argmax(scores, axis=-1), "int32")
            return ops.slice_update(codes, (0, p), code[:, None])

        codes = ops.fori_loop(0, positions, body, ops.zeros((num, positions), "int32"))
        return ops.reshape(codes, (num,) + self.shape)

