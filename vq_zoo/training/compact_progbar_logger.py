"""A progress bar that shows what can change."""

import keras
import numpy as np


class CompactProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' `ProgbarLogger` without the metrics that have been exactly zero
    on every batch so far.

    With an EMA codebook `codebook_loss` is zero by design, and
    `skipped_updates` stays zero until a step is skipped; showing them on
    every progress line only doubles its length. A metric is shown from the
    first batch (or epoch end) where it is not zero, and from then on. The
    logs themselves, which TensorBoard, `NaNGuard` and the history read, are
    untouched: only the progress bar sees fewer keys.

    Example:
    >>> model.fit(data, epochs=2, verbose=0, callbacks=[CompactProgbarLogger()])
    """

    def __init__(self):
        super().__init__()
        self._shown = set()

    def _compact(self, logs):
        if not logs:
            return logs
        for name, value in logs.items():
            if name in self._shown:
                continue
            try:
                if np.any(np.asarray(value, np.float64) != 0):
                    self._shown.add(name)
            except (TypeError, ValueError):
                self._shown.add(name)  # not a number: always shown
        return {name: value for name, value in logs.items() if name in self._shown}

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._compact(logs))

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(batch, self._compact(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._compact(logs))

    def on_test_end(self, logs=None):
        super().on_test_end(self._compact(logs))
