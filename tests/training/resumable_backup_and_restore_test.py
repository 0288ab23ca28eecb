"""A training process killed mid-epoch (SIGKILL) and resumed ends with the
same weights, codebook, EMA state and optimizer state as a run that was
never interrupted; Keras' own BackupAndRestore, as a control, does not."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from vq_zoo.training import ResumableBackupAndRestore
from vq_zoo.training.resumable_backup_and_restore import STATE_FILE

WORKER = os.path.join(os.path.dirname(__file__), "resume_worker.py")
# 8 batches an epoch, a backup every 3 batches (counted across epochs): the
# last backup before batch 6 of epoch 1 (0-based, the 14th batch) is after
# the 12th batch, i.e. 4 batches into epoch 1.
KILL_AT = "1:5"
TIMEOUT = 240


def start(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen(
        [sys.executable, WORKER, *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(procs):
    """Waits for every process; returns their (returncode, stderr)."""
    results = []
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT)
            results.append((proc.returncode, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def kill_and_resume(tmp, callback):
    """Runs a job killed mid-epoch, then resumes it; returns the final state
    and the backup's state file as it was at the kill."""
    out, backup = str(tmp / f"{callback}.npz"), str(tmp / f"backup-{callback}")
    args = [out, "--backup", backup, "--callback", callback]
    (code, err), = finish([start(*args, "--kill-at", KILL_AT)])
    assert code == -signal.SIGKILL, err[-3000:]
    assert not os.path.exists(out)
    state_file = STATE_FILE if callback == "ours" else "training_metadata.json"
    with open(os.path.join(backup, state_file)) as f:
        state_at_kill = json.load(f)
    (code, err), = finish([start(*args)])
    assert code == 0, err[-3000:]
    return load(out), state_at_kill, backup


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    # Started here, waited for in `reference`: it runs beside the killed job.
    out = str(tmp_path_factory.mktemp("reference") / "reference.npz")
    proc = start(out)
    try:
        yield proc, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def reference(reference_run):
    proc, out = reference_run
    (code, err), = finish([proc])
    assert code == 0, err[-3000:]
    return load(out)


@pytest.fixture(scope="module")
def ours(reference_run, tmp_path_factory):
    return kill_and_resume(tmp_path_factory.mktemp("ours"), "ours")


def test_backup_at_kill_was_mid_epoch(ours):
    _, state, backup = ours
    assert state["epoch"] == 1 and state["batches_done"] == 4
    # A finished fit removes its backup.
    assert not os.path.exists(backup)


def test_resumed_run_equals_uninterrupted_run(reference, ours):
    resumed = ours[0]
    assert sorted(reference) == sorted(resumed)
    keys = set(reference)
    # What must be restored is really there: EMA state, optimizer moments
    # and iteration count.
    assert any(k.endswith("quantizer/codebook") for k in keys)
    assert any("ema_cluster_size" in k for k in keys)
    assert any(k.startswith("optimizer/") and "iteration" in k for k in keys)
    iterations = next(v for k, v in reference.items() if "iteration" in k)
    assert int(iterations) == 3 * 8
    for key in sorted(keys):
        np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)


@pytest.mark.slow
def test_control_keras_backup_and_restore_replays_the_epoch(reference, tmp_path):
    # Keras' callback restores the mid-epoch weights but trains the epoch's
    # first batches again: more steps, different weights. This shows the
    # comparison above can fail.
    replayed, state, _ = kill_and_resume(tmp_path, "keras")
    assert state == {"epoch": 1, "batch": 3}
    iterations = next(v for k, v in replayed.items() if "iteration" in k)
    assert int(iterations) == 3 * 8 + 4
    codebook = next(k for k in reference if k.endswith("quantizer/codebook"))
    assert np.max(np.abs(replayed[codebook] - reference[codebook])) > 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match="`save_freq` must be 'epoch' or an integer >= 1"):
        ResumableBackupAndRestore("dir", save_freq=0)
    with pytest.raises(ValueError, match="`backup_dir` must be a directory path"):
        ResumableBackupAndRestore("")


def test_unbuilt_model_with_a_backup_is_refused(tmp_path):
    with open(tmp_path / STATE_FILE, "w") as f:
        json.dump({"weights": "w.weights.h5", "epoch": 0, "batches_done": 1}, f)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="needs a built model"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0,
                  callbacks=[ResumableBackupAndRestore(str(tmp_path))])


class _StopAt(keras.callbacks.Callback):
    """Raises at a batch of the first epoch, as a crash would."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            raise KeyboardInterrupt


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, dict(logs or {})))


def test_resume_is_announced_and_skipped_batches_are_not_logged(tmp_path, capsys):
    """A fit interrupted after batch 4 (0-based 3) of 6, backed up every 2
    batches, resumes at batch 5: it says so, and the callbacks wrapped by
    `real_batches_only` (the progress bar among them) see batches 4 and 5
    only (0-based), with the real, positive losses."""
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 3.0

    def model():
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        return m

    backup = str(tmp_path / "backup")
    first = ResumableBackupAndRestore(backup, save_freq=2)
    with pytest.raises(KeyboardInterrupt):
        model().fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False,
                    callbacks=[first, _StopAt(3)])
    with open(os.path.join(backup, STATE_FILE)) as f:
        assert json.load(f)["batches_done"] == 4
    capsys.readouterr()
    callback = ResumableBackupAndRestore(backup, save_freq=2, name="toy", verbose=1)
    recorder, bare = _Recorder(), _Recorder()
    model().fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False, callbacks=[
        callback, bare,
        callback.real_batches_only([recorder, keras.callbacks.ProgbarLogger()],
                                   verbose=2)])
    out = capsys.readouterr().out
    assert "resuming toy at epoch 1, batch 5" in out
    # The unwrapped callback sees the skipped batches 0-3 with empty metrics.
    assert [b for b, _ in bare.batches[:4]] == [0, 1, 2, 3]
    # The wrapped ones: epoch 1 from batch 4 on, then all of epoch 2.
    assert [b for b, _ in recorder.batches] == [4, 5, 0, 1, 2, 3, 4, 5]
    assert all(logs["loss"] > 0 for _, logs in recorder.batches)
    # The progress bar (verbose 2: one line an epoch) printed both epochs.
    assert out.count("step - loss") == 2, out
