"""Model checkpoints written atomically: a reader or a resumed job never sees
a half-written file."""

import os

import keras
import numpy as np

from vq_zoo.training._cluster import worker_role


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the model (`.keras`) or its weights (`.weights.h5`) atomically.

    Each save goes to a temporary file in the target's own directory (so on
    the same filesystem), which then replaces the target with `os.replace`:
    a process killed mid-save leaves the previous checkpoint intact and at
    most a `.tmp-*` file behind, never a truncated checkpoint. Both formats
    hold the non-trainable state (the EMA codebook statistics) and, when the
    model is compiled, the optimizer's state.

    Under `MultiWorkerMirroredStrategy` only the chief writes (every worker
    holds the same weights).

    Args:
        filepath: path ending in `.keras` (whole model) or `.weights.h5`
            (weights only). May hold `str.format` fields: `{epoch}` (from
            1), `{batch}` (from 1, with an integer `save_freq`) and any logged
            metric, e.g. `"ckpt/vqvae-{epoch:03d}-{loss:.3f}.keras"`.
        save_freq: `"epoch"`, or an integer: save every `save_freq` batches.
        save_best_only: if True, save only when `monitor` improves.
        monitor: the logged metric `save_best_only` watches.
        mode: `"min"` or `"max"`: which direction of `monitor` is better.

    Example:
    >>> model.fit(data, epochs=10, callbacks=[
    ...     AtomicModelCheckpoint("ckpt/vqvae.keras"),
    ... ])
    """

    def __init__(
        self,
        filepath,
        save_freq="epoch",
        save_best_only=False,
        monitor="loss",
        mode="min",
    ):
        super().__init__()
        filepath = os.fspath(filepath)
        if not filepath.endswith((".keras", ".weights.h5")):
            raise ValueError(
                "`filepath` must end in `.keras` (whole model) or "
                f"`.weights.h5` (weights only). Received: filepath={filepath!r}"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                "`save_freq` must be 'epoch' or an integer >= 1 (batches). "
                f"Received: save_freq={save_freq!r}"
            )
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max'. Received: mode={mode!r}")
        self.filepath = filepath
        self.save_freq = save_freq
        self.save_best_only = bool(save_best_only)
        self.monitor = monitor
        self.mode = mode
        self.best = None
        self._epoch = 0
        self._batches_since_save = 0
        self._last_batch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._maybe_save(logs, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._maybe_save(logs)

    def _maybe_save(self, logs, batch=None):
        logs = dict(logs or {})
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"AtomicModelCheckpoint: `monitor`={self.monitor!r} is not "
                    f"among the logged metrics {sorted(logs)}."
                )
            value = float(np.asarray(logs[self.monitor]))
            better = (
                self.best is None
                or (value < self.best if self.mode == "min" else value > self.best)
            )
            if not better:
                return
            self.best = value
        if not worker_role(self.model)[0]:
            return
        fields = {k: float(np.asarray(v)) for k, v in logs.items() if np.ndim(v) == 0}
        path = self.filepath.format(epoch=self._epoch + 1, batch=batch, **fields)
        self.save(path)

    def save(self, path):
        """Writes the model (or weights, by suffix) to `path` atomically."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        base = os.path.basename(path)
        # Same directory, so `os.replace` is a rename within one filesystem;
        # same suffix, because Keras picks the format by the suffix.
        tmp = os.path.join(directory, f".tmp-{os.getpid()}-{base}")
        try:
            if path.endswith(".weights.h5"):
                self.model.save_weights(tmp, overwrite=True)
            else:
                self.model.save(tmp, overwrite=True)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
