"""Stops training at the first non-finite metric, saying which and where."""

import math

import keras
import numpy as np


# The metrics a reader acts on, in the order they are named when several are
# non-finite at once: which one a host's numerics turn non-finite first must
# not decide what the message says.
_FIRST = ("loss", "val_loss")


def _by_importance(logs):
    """`loss` first, then `val_loss`, then every other metric by name."""
    first = [name for name in _FIRST if name in logs]
    return first + sorted(name for name in logs if name not in _FIRST)


class NaNGuard(keras.callbacks.Callback):
    """Stops `fit` when a logged metric becomes NaN or infinite.

    Keras' `TerminateOnNaN` watches only `loss` and just prints. This
    callback checks every scalar `fit` logs (or those in `monitor`) after
    every batch, and the validation metrics after every epoch, and by default
    raises a `FloatingPointError` naming the metric, its value, the epoch and
    the batch, so a training job fails loudly instead of saving NaN weights.
    Put it before checkpoint callbacks in the `callbacks` list, so nothing is
    saved after the bad batch.

    With vq_zoo's models the bad step was never applied: their shared
    training step (`vq_zoo.models.task.Task`, which logs `skipped_updates`)
    does not apply a step whose loss or gradients are not finite, and the
    quantizers leave their codebook and statistics untouched for a batch
    holding NaN or Inf. When NaNGuard raises, the model in memory therefore
    still holds the weights of the last good step, ready to be saved or
    inspected. (A plain Keras model has already applied the bad step by the
    time any callback runs; the message says which case it is, from whether
    `skipped_updates` is logged.)

    Epochs and batches in the message count from 1, as Keras' progress bar
    does; `stopped_epoch` and `stopped_batch` keep them from 0, as Keras'
    callbacks receive them (`stopped_batch` is None for an end-of-epoch
    metric).

    When several metrics are non-finite at once, the message names `loss`
    (then `val_loss`) before any other, whichever the host's arithmetic
    turned non-finite first; the others follow by name.

    Args:
        monitor: None (every logged scalar, `loss` first) or a list of metric
            names, checked in that order.
        raise_error: if True (default), raise `FloatingPointError`; if False,
            print the message and set `model.stop_training`, so `fit` returns
            after the current batch.

    Example:
    >>> model.fit(data, epochs=10, callbacks=[NaNGuard()])
    """

    def __init__(self, monitor=None, raise_error=True):
        super().__init__()
        if isinstance(monitor, str):
            monitor = [monitor]
        if monitor is not None and (
            not monitor or not all(isinstance(m, str) and m for m in monitor)
        ):
            raise ValueError(
                "`monitor` must be None or a non-empty list of metric names. "
                f"Received: monitor={monitor!r}"
            )
        self.monitor = None if monitor is None else list(monitor)
        self.raise_error = bool(raise_error)
        self.message = None
        self.stopped_epoch = None
        self.stopped_batch = None
        self._epoch = 0
        self._skipped_so_far = 0.0

    def on_train_begin(self, logs=None):
        self.message = self.stopped_epoch = self.stopped_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._skipped_so_far = 0.0  # `skipped_updates` is a sum per epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        self._check(logs, None)

    def _check(self, logs, batch):
        if not logs or self.message is not None:
            return
        # Whether the training step skipped this very batch (the logged
        # `skipped_updates` grew), so the weights are those of the step before.
        skipped_now = False
        if batch is not None and "skipped_updates" in logs:
            total = float(np.asarray(logs["skipped_updates"]))
            skipped_now = total > self._skipped_so_far
            self._skipped_so_far = total
        names = self.monitor if self.monitor is not None else _by_importance(logs)
        for name in names:
            if name not in logs:
                continue
            value = logs[name]
            if np.ndim(value) != 0:
                continue
            value = float(np.asarray(value))
            if math.isfinite(value):
                continue
            where = f"epoch {self._epoch + 1}"
            if batch is not None:
                where = f"batch {batch + 1} of {where}"
            else:
                where = f"the end of {where}"
            self.message = (
                f"NaNGuard: metric `{name}` is {value} at {where}; training "
                "stopped (epochs and batches count from 1). "
                + self._explain(batch, skipped_now, "skipped_updates" in logs)
            )
            self.stopped_epoch, self.stopped_batch = self._epoch, batch
            if self.raise_error:
                raise FloatingPointError(self.message)
            print(self.message, flush=True)
            self.model.stop_training = True
            return

    @staticmethod
    def _explain(batch, skipped_now, skips_logged):
        if batch is None:
            return (
                "A validation metric is not finite: check the validation "
                "data for NaN/Inf and the model's outputs on it."
            )
        checks = (
            "Check that batch's data for NaN/Inf (and its preprocessing), "
            "the learning rate and the loss scale, and the encoder's outputs."
        )
        if skipped_now:
            return (
                "That step was not applied (its loss or gradients were not "
                "finite; `skipped_updates` counts such steps), so the model in "
                "memory holds the weights and codebook of the last good step. "
                + checks
            )
        if skips_logged:
            return (
                "The training step applied that step (its loss and gradients "
                "were finite), so only this metric is affected. " + checks
            )
        return (
            "This model's training step does not skip non-finite steps, so "
            "its weights may already hold NaN. " + checks
        )
