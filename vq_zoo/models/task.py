"""The one training step of vq_zoo: every trainable model is a `Task`."""

import keras
from keras import ops

from vq_zoo.models.preset_mixin import PresetMixin
from vq_zoo.utils.checks import int_range_assertions
from vq_zoo.utils.distribute import cross_replica_sum
from vq_zoo.utils.distribute import loss_scale_for_replicas
from vq_zoo.utils.distribute import num_replicas_in_sync


class Task(PresetMixin, keras.Model):
    """Base class of every trainable model of the package: one `train_step`.

    A subclass says what to minimise and what to report; the base does the
    rest, once, for all of them: the gradient tape, scaling each replica's
    loss to its share of the global batch under `tf.distribute` (gradients
    are summed across replicas), the loss-scale optimizer of
    `mixed_float16`, dense embedding gradients (so every strategy
    all-reduces them alike), skipping a step whose loss or gradients are not
    finite (decided identically on every replica, so the model in memory
    stays the last good one and `NaNGuard` can stop the run), and the
    metrics.

    A subclass:
        - calls `self._init_trackers(names, codebook_usage)` in `__init__`:
          `names` are the scalars `compute_loss_terms` returns (each logged
          as a running mean, `"loss"` first), `codebook_usage` maps a metric
          name to a codebook size (`CodebookUsage` metrics fed with
          `code_counts`);
        - implements `compute_loss_terms(data, training)`, returning
          `(scalars, code_counts)`: a dict with every name of `names`
          (`scalars["loss"]` is minimised; regularisation losses of the
          layers are added to it here) and a dict from usage-metric name to
          per-code counts of the global batch;
        - may override `_build_from_data(data)` (build on the first batch).

    `compile(loss=...)` and `compile(metrics=...)` are refused with a
    `ValueError`: the model computes its own loss terms and metrics, and
    Keras would silently ignore them. `fit` logs every tracker plus
    `skipped_updates`, the number of steps of the epoch that were not
    applied because their loss or gradients were not finite.
    """

    def _init_trackers(self, names, codebook_usage=None):
        from vq_zoo.metrics.codebook_usage import CodebookUsage

        names = tuple(names)
        if not names or names[0] != "loss":
            raise ValueError(f"The first tracked scalar must be 'loss', got {names}")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.usage_trackers = {
            name: CodebookUsage(size, name=name)
            for name, size in (codebook_usage or {}).items()
        }
        self.skipped_updates = keras.metrics.Sum(name="skipped_updates")

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None,
                metrics=None, weighted_metrics=None, **kwargs):
        cls = type(self).__name__
        if loss is not None or loss_weights is not None:
            raise ValueError(
                f"{cls} computes its own loss terms ({', '.join(self.trackers)}) "
                "and would ignore `compile(loss=...)` / `loss_weights=`; remove "
                "them (choose the likelihood in the model's constructor)."
            )
        if metrics is not None or weighted_metrics is not None:
            raise ValueError(
                f"{cls} logs its own metrics ({', '.join(m.name for m in self.metrics)}) "
                "and would ignore `compile(metrics=...)`; remove `metrics=` "
                "(evaluate other metrics on `model.predict` outputs)."
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras skips `compile` on load when it is overridden; ours only
        # adds checks, so restore the optimizer (and its state) as Keras
        # would.
        config = keras.saving.deserialize_keras_object(config)
        for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            config.pop(key, None)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def make_train_function(self, force=False):
        # Keras' TensorFlow trainer, with no strategy set, leaves the
        # optimizer unbuilt until the first trace of the step; a
        # `tf.function` whose first trace creates variables is traced a
        # second time, so every `fit` traced the whole step twice. Building
        # the optimizer here, once every layer is built, makes it one trace
        # (the variables and their initial values are the same).
        optimizer = getattr(self, "optimizer", None)
        if (optimizer is not None and not optimizer.built and self.built
                and all(layer.built for layer in self._flatten_layers())):
            with self.distribute_strategy.scope():
                optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    # ------------------------------------------------------------ to override
    def compute_loss_terms(self, data, training):
        """`(scalars, code_counts)` for one batch; see the class docstring."""
        raise NotImplementedError

    def _build_from_data(self, data):
        """Builds the model on the first batch if it is not built yet."""

    # ------------------------------------------------------------ steps
    def _terms_with_regularization(self, data, training):
        scalars, counts = self.compute_loss_terms(data, training=training)
        scalars = dict(scalars)
        if self.losses:
            scalars["loss"] = scalars["loss"] + ops.sum(ops.stack(self.losses))
        return scalars, counts

    def _batch_ranges(self, data):
        """`(tensor, upper, name)` for each integer part of a batch (a
        speaker, a label, integer inputs) that must lie in `[0, upper)`.

        `train_step` runs nothing until these hold, so a batch that fails
        them raises before any variable (an EMA codebook, a random
        generator's state, a weight) has changed. None by default."""
        return ()

    def _batch_assertions(self, data):
        """The in-graph assertion ops `train_step` waits for: by default
        those of `_batch_ranges`; a subclass may add value checks (the
        speech models' audio peak)."""
        return [check for x, upper, name in self._batch_ranges(data)
                for check in int_range_assertions(x, upper, name)]

    def train_step(self, data):
        import tensorflow as tf

        batch_size = self._batch_size(data)
        data = self._never_empty(data, batch_size)
        self._build_from_data(data)
        checks = self._batch_assertions(data)
        # Every op of the step is created under these dependencies: a batch
        # that fails them raises before any variable has changed.
        with tf.control_dependencies(checks):
            return self._guarded_train_step(data, batch_size)

    def _guarded_train_step(self, data, batch_size):
        import tensorflow as tf

        # State the layers update in `call` (EMA codebooks, dead-code and
        # sampling state) is put back if the step is skipped, and where a
        # replica's batch was empty: its stand-in example (`_never_empty`)
        # must not enter the EMA statistics, which are summed across
        # replicas in `call`; the other replicas' gradients still apply.
        state = [(v, tf.identity(v.value)) for v in self.non_trainable_variables]
        held = batch_size > 0
        with tf.GradientTape() as tape:
            scalars, counts = self._terms_with_regularization(data, training=True)
            # An empty batch's stand-in: no gradient either.
            scalars, counts = self._held_only(scalars, counts, held)
            # Gradients are summed across replicas: scale each replica's
            # mean loss to its share of the global batch.
            scaled = self.optimizer.scale_loss(
                scalars["loss"] * loss_scale_for_replicas()
            )
        weights = self.trainable_weights
        # Embedding gradients are IndexedSlices whose size differs between
        # replicas; dense gradients all-reduce the same way on every strategy.
        grads = [
            tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
            for g in tape.gradient(scaled, weights)
        ]
        skipped = self._apply_if_finite(scalars["loss"], grads, weights)
        # The same decision on every replica (the state is kept in step).
        any_empty = cross_replica_sum(ops.cast(ops.logical_not(held), "float32")) > 0
        restore = ops.logical_or(skipped > 0, any_empty)
        for variable, before in state:
            variable.assign(ops.where(restore, before, variable.value))
        return self._record(scalars, counts, skipped, batch_size)

    @staticmethod
    def _batch_size(data):
        """Examples in this (replica's) batch: the running means weight each
        batch by it, so a short last batch counts for what it holds."""
        first = keras.tree.flatten(data)[0]
        return ops.cast(ops.shape(first)[0], "float32")

    def _apply_if_finite(self, loss, grads, weights):
        """Applies the gradients unless the loss or a gradient is not finite
        on any replica; returns 1.0 for a skipped step, else 0.0."""
        import tensorflow as tf

        bad = ops.logical_not(ops.all(ops.isfinite(ops.cast(loss, "float32"))))
        for g in grads:
            if g is not None:
                bad = ops.logical_or(bad, ops.logical_not(ops.all(ops.isfinite(g))))
        # The same decision on every replica.
        bad = cross_replica_sum(ops.cast(bad, "float32")) > 0
        skipped = ops.cast(bad, "float32")
        optimizer = self.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            # Non-finite scaled gradients are routine for a loss-scale
            # optimizer: it skips those steps and lowers its scale itself.
            optimizer.apply(grads, weights)
            return skipped
        if not optimizer.built:
            optimizer.build(weights)
        ctx = tf.distribute.get_replica_context()
        if ctx is None or tf.__internal__.distribute.strategy_supports_no_merge_call():
            ops.cond(bad, lambda: None, lambda: optimizer.apply(grads, weights))
            return skipped

        # A branch of a cond in a replica context may not synchronise
        # replicas (the optimizer's all-reduce does): decide in the
        # cross-replica context, as Keras' LossScaleOptimizer does.
        def handle(distribution, grads, bad):
            bad = distribution.experimental_local_results(bad)[0]

            def apply():
                distribution.extended.call_for_each_replica(
                    optimizer.apply, args=(grads, weights)
                )

            ops.cond(bad, lambda: None, apply)

        ctx.merge_call(handle, args=(grads, bad))
        return skipped

    def test_step(self, data):
        batch_size = self._batch_size(data)
        data = self._never_empty(data, batch_size)
        self._build_from_data(data)
        scalars, counts = self._terms_with_regularization(data, training=False)
        scalars, counts = self._held_only(scalars, counts, batch_size > 0)
        return self._record(scalars, counts, None, batch_size)

    @staticmethod
    def _held_only(scalars, counts, held):
        """The batch's loss terms and code counts, or zeros where `held` is
        false: an empty batch's stand-in (`_never_empty`) counts for nothing
        (it also weighs 0 in the running means, by its batch size)."""
        scalars = {k: ops.where(held, v, ops.zeros_like(v)) for k, v in scalars.items()}
        counts = {k: v * ops.cast(held, v.dtype) for k, v in counts.items()}
        return scalars, counts

    @staticmethod
    def _never_empty(data, batch_size):
        """`data`, or, where this replica's batch is empty, one all-zero
        example in its place. A multi-replica strategy fills the replicas
        in turn, so a last batch no larger than one replica's share leaves
        the others empty batches (an evaluation's 84 examples in batches
        of 64 reach 2 replicas as 32/32 and 20/0); TensorFlow's oneDNN
        convolutions on CPU give a wrong shape for an empty batch, and a
        mean over it is NaN. `test_step` and `train_step` weight the
        stand-in 0; `train_step` also keeps it out of the layers' state."""
        if keras.backend.backend() != "tensorflow" or num_replicas_in_sync() == 1:
            # Only several replicas are handed empty batches; one device
            # keeps its static batch shape (XLA, oneDNN).
            return data
        import tensorflow as tf

        if any(t is None for t in tf.nest.flatten(data)):
            return data  # (x, None, ...): left as Keras gave it

        def stand_in():
            return tf.nest.map_structure(
                lambda t: tf.zeros(tf.concat([[1], tf.shape(t)[1:]], 0), t.dtype), data)

        return tf.cond(batch_size > 0, lambda: data, stand_in)

    def _record(self, scalars, counts, skipped, batch_size):
        for name, tracker in self.trackers.items():
            if name in scalars:  # a term some batches lack (SpectrogramVQVAE's swap_loss)
                tracker.update_state(scalars[name], sample_weight=batch_size)
        for name, tracker in self.usage_trackers.items():
            tracker.update_state(counts[name])
        if skipped is None:  # evaluation: no update to skip
            return {m.name: m.result() for m in self.metrics if m is not self.skipped_updates}
        # Every replica counts the same skip; the Sum's replica-local values
        # are summed on reading.
        self.skipped_updates.update_state(skipped * loss_scale_for_replicas())
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return (
            list(self.trackers.values())
            + list(self.usage_trackers.values())
            + [self.skipped_updates]
        )


__all__ = ["Task"]
