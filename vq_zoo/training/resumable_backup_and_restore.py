"""Backs up the training state mid-epoch and resumes exactly where it was."""

import json
import os
import shutil

import keras

from vq_zoo.training._cluster import worker_role
from vq_zoo.utils.io import atomic_path
from vq_zoo.utils.io import write_atomic

STATE_FILE = "training_state.json"


class ResumableBackupAndRestore(keras.callbacks.Callback):
    """`BackupAndRestore` that resumes mid-epoch at the very next batch.

    Keras' `BackupAndRestore(save_freq=N)` saves every `N` batches but, on
    restart, restores those weights and then runs the interrupted epoch from
    its first batch again, so batches are trained twice and the result
    differs from an uninterrupted run; it also overwrites its backup in
    place, so a kill during a save can leave a corrupt file. This callback
    records how many batches of the epoch the backup holds, and on restart
    restores the weights (every layer weight, including the quantiser's
    non-trainable EMA state, and the optimizer's variables and iteration
    count), starts `fit` at that epoch and skips the batches already trained,
    reading them from the dataset without training on them. Each backup is a
    new weights file written via a temporary file and `os.replace`, and then
    `training_state.json`, written the same way, names it: the state file is
    the commit point, so a kill at any moment leaves a consistent backup.

    With a deterministic input pipeline (the same batches in the same order
    in every epoch, or an order that is a function of the epoch) and
    deterministic ops (`tf.config.experimental.enable_op_determinism()`), a
    killed and resumed run ends with the same weights as an uninterrupted
    one. The epoch's metric averages are not part of the backup: after a
    mid-epoch resume the epoch's logs average only the batches trained after
    the restart.

    Under `MultiWorkerMirroredStrategy` every worker backs up to its own
    subdirectory `<task_type>-<task_id>` of `backup_dir` (their weights are
    identical).

    Args:
        backup_dir: directory for the backup (not shared with other runs).
        save_freq: `"epoch"` (at the end of each epoch) or an integer: every
            `save_freq` batches, counted across epochs.
        delete_checkpoint: if True (default), remove the backup when `fit`
            ends normally.
        name: what is trained, for the message printed on a resume
            ("resuming <name> at epoch E, batch B").
        verbose: print that message (0: silent).

    The batches skipped on a resume are not trained, and their logs are not
    real: `real_batches_only(callbacks)` wraps the other callbacks (the
    progress bar included) so that they see only the batches trained.

    Example:
    >>> model.fit(data, epochs=10, callbacks=[
    ...     NaNGuard(), ResumableBackupAndRestore("backup", save_freq=100),
    ... ])
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True,
                 name=None, verbose=0):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                f"`backup_dir` must be a directory path. Received: backup_dir={backup_dir!r}"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                "`save_freq` must be 'epoch' or an integer >= 1 (batches). "
                f"Received: save_freq={save_freq!r}"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self.name = name or "training"
        self.verbose = verbose
        self.restored_state = None
        self._reset()

    def _reset(self):
        self._epoch = 0
        self._last_batch = -1
        self._batches_since_save = 0
        self._to_skip = 0
        self._train_function = None

    # --------------------------------------------------------------- paths
    def _dir(self):
        _, task_type, task_id = worker_role(self.model)
        if task_type is None:
            return self.backup_dir
        return os.path.join(self.backup_dir, f"{task_type}-{task_id}")

    def _read_state(self):
        path = os.path.join(self._dir(), STATE_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    # ------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        self._reset()
        self.restored_state = state = self._read_state()
        if state is None:
            return
        model = self.model
        if not model.built:
            raise ValueError(
                "ResumableBackupAndRestore needs a built model to restore "
                "into: call `model.build(input_shape)` before `fit`."
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(self._dir(), state["weights"]))
        # Keras' own BackupAndRestore resumes through this attribute too.
        model._initial_epoch = state["epoch"]
        self._epoch = state["epoch"]
        if self.verbose:
            # 1-based, as Keras' progress bar counts epochs and steps.
            print(f"resuming {self.name} at epoch {state['epoch'] + 1}, batch "
                  f"{state['batches_done'] + 1} (from the backup in {self._dir()})",
                  flush=True)
        if state["batches_done"]:
            self._skip_batches(state["batches_done"])

    def _skip_batches(self, count):
        """Makes the next `count` batches of `fit` read their data and not
        train, so the epoch goes on at the batch after the backup."""
        model = self.model
        train_function = self._train_function = model.train_function
        per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        self._to_skip = count

        def skip_or_train(iterator):
            if self._to_skip <= 0:
                model.train_function = train_function
                return train_function(iterator)
            for _ in range(min(per_call, self._to_skip)):
                next(iterator)
            self._to_skip -= per_call
            if self._to_skip <= 0:
                model.train_function = train_function
            return model.get_metrics_result()

        model.train_function = skip_or_train

    # ---------------------------------------------------------------- save
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        # Skipped batches hold no new training: never back them up.
        skipping = batch < self._skipped_through()
        seen = batch - self._last_batch
        self._last_batch = batch
        if skipping or self.save_freq == "epoch":
            return
        self._batches_since_save += seen
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch + 1)

    def is_skipped(self, batch):
        """Whether `batch` of the current epoch is one skipped on resume."""
        return batch < self._skipped_through()

    def real_batches_only(self, callbacks, verbose=None):
        """One callback that forwards every event to `callbacks` except the
        batch events of the batches skipped on resume. Put it after this
        callback in `fit`'s list. `verbose`: the verbosity the wrapped
        callbacks (a `ProgbarLogger`) see, when `fit` itself runs with
        `verbose=0`."""
        return _RealBatchesOnly(self, callbacks, verbose)

    def _skipped_through(self):
        # Batches of the resumed epoch that were skipped, not trained.
        state = self.restored_state
        if state and self._epoch == state["epoch"]:
            return state["batches_done"]
        return 0

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0)

    def _save(self, epoch, batches_done):
        directory = self._dir()
        os.makedirs(directory, exist_ok=True)
        previous = self._read_state()
        name = f"backup-epoch{epoch}-batch{batches_done}.weights.h5"
        path = os.path.join(directory, name)
        with atomic_path(path) as tmp:
            self.model.save_weights(tmp, overwrite=True)
        state = {"weights": name, "epoch": epoch, "batches_done": batches_done}
        write_atomic(
            os.path.join(directory, STATE_FILE), json.dumps(state).encode()
        )
        if previous and previous["weights"] != name:
            old = os.path.join(directory, previous["weights"])
            if os.path.exists(old):
                os.remove(old)

    def on_train_end(self, logs=None):
        if self._train_function is not None:
            self.model.train_function = self._train_function
        self.model._initial_epoch = None
        if self.delete_checkpoint and os.path.isdir(self._dir()):
            shutil.rmtree(self._dir())


class _RealBatchesOnly(keras.callbacks.Callback):
    """Callbacks that do not see the batches a resume skips."""

    def __init__(self, backup, callbacks, verbose=None):
        super().__init__()
        self.backup = backup
        self.callbacks = [c for c in callbacks if c is not None]
        self.verbose = verbose

    def set_params(self, params):
        super().set_params(params)
        if self.verbose is not None:
            params = dict(params, verbose=self.verbose)
        for c in self.callbacks:
            c.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for c in self.callbacks:
            c.set_model(model)

    def on_train_batch_begin(self, batch, logs=None):
        if not self.backup.is_skipped(batch):
            for c in self.callbacks:
                c.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if not self.backup.is_skipped(batch):
            for c in self.callbacks:
                c.on_train_batch_end(batch, logs)


def _forward(hook):
    def method(self, *args, **kwargs):
        for c in self.callbacks:
            getattr(c, hook)(*args, **kwargs)

    method.__name__ = hook
    return method


for _hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_test_begin", "on_test_end", "on_test_batch_begin",
              "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(_RealBatchesOnly, _hook, _forward(_hook))
