"""Ends a fit with the weights of its best validation epoch, across resumes."""

import json
import math
import os

import keras

from vq_zoo.utils.io import atomic_path
from vq_zoo.utils.io import write_atomic

STATE = "best_epoch.json"
WEIGHTS = "best_epoch.weights.h5"


class KeepBestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest `monitor` and puts
    them back when training ends (early stopping without stopping: every
    epoch still runs, so the TensorBoard curves show the whole run).

    The best epoch's weights (every variable, EMA statistics included) and
    its value are written atomically to `directory` whenever an epoch beats
    the best so far, so a fit that is interrupted and resumed (the pipeline's
    `ResumableBackupAndRestore`) still ends with the best of all its epochs.
    An epoch whose value is missing or not finite never counts as best.

    Args:
        directory: folder for `best_epoch.json` and `best_epoch.weights.h5`.
        monitor: the log to minimise (default `"val_loss"`: the fit needs
            `validation_data`).
        verbose: 1 prints the epoch restored at the end.

    After `fit`, `best_epoch` (1-based) and `best_value` say what was kept.
    """

    def __init__(self, directory, monitor="val_loss", verbose=0):
        super().__init__()
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.verbose = verbose
        self.best_epoch = None
        self.best_value = math.inf

    def _paths(self):
        return (os.path.join(self.directory, STATE),
                os.path.join(self.directory, WEIGHTS))

    def on_train_begin(self, logs=None):
        state, weights = self._paths()
        self.best_epoch, self.best_value = None, math.inf
        if os.path.exists(state) and os.path.exists(weights):
            with open(state) as f:
                record = json.load(f)
            if record.get("monitor") == self.monitor:
                self.best_epoch = int(record["epoch"])
                self.best_value = float(record["value"])

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"KeepBestEpoch monitors {self.monitor!r}, which this fit does not log "
                f"(logs: {', '.join(sorted(logs or {}))}); pass `validation_data`.")
        value = float(value)
        if not math.isfinite(value) or value >= self.best_value:
            return
        state, weights = self._paths()
        with atomic_path(weights) as tmp:
            self.model.save_weights(tmp)
        self.best_epoch, self.best_value = epoch + 1, value
        write_atomic(state, json.dumps(
            {"monitor": self.monitor, "epoch": self.best_epoch, "value": value}))

    def on_train_end(self, logs=None):
        if self.best_epoch is None:
            return
        self.model.load_weights(self._paths()[1])
        if self.verbose:
            print(f"Kept epoch {self.best_epoch} ({self.monitor} {self.best_value:.4f}), "
                  "the best on validation.", flush=True)
