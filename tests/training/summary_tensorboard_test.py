"""SummaryTensorBoard: extra summaries at the right epochs only, in their own
run, readable as soon as written, the writer closed after training and
reopened by the next `fit`; only the chief writes."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.events import read_run
from vq_zoo.training import summary_tensorboard
from vq_zoo.training.summary_tensorboard import SummaryTensorBoard

BATCHES_PER_EPOCH = 2


class ProbeTensorBoard(SummaryTensorBoard):
    """Writes the optimizer's step count, which Keras advances independently
    of the callback: BATCHES_PER_EPOCH per epoch."""

    def write_summaries(self, step):
        with self.summaries_at(step):
            tf.summary.scalar("iterations", int(self.model.optimizer.iterations))


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(2 * BATCHES_PER_EPOCH, 3)).astype("float32"),
            rng.normal(size=(2 * BATCHES_PER_EPOCH, 1)).astype("float32"))


def event_files(run_dir):
    return glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))


def open_files_under(directory):
    """The files under `directory` this process holds open (Linux)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            paths.append(os.readlink(os.path.join("/proc/self/fd", fd)))
        except OSError:  # closed meanwhile
            pass
    return [p for p in paths if p.startswith(str(directory) + os.sep)]


def test_summaries_at_the_scheduled_epochs_and_a_second_fit_reopens(tmp_path):
    keras.utils.set_random_seed(0)
    model, (x, y) = small_model(), data()
    board = ProbeTensorBoard(str(tmp_path), every_n_epochs=3, run_name="probe")
    model.fit(x, y, batch_size=2, epochs=7, verbose=0, callbacks=[board])
    run_dir = str(tmp_path / "probe")
    values, plugins = read_run(run_dir)
    # Epochs 3 and 6 counting from 1, i.e. steps 2 and 5; each value is the
    # optimizer's count at the end of that epoch.
    assert values["iterations"] == {2: 2.0 * 3, 5: 2.0 * 6}
    assert plugins["iterations"] == "scalars"
    # Keras' own scalars are still written, every epoch, in their own run.
    train, _ = read_run(str(tmp_path / "train"))
    assert sorted(train["epoch_loss"]) == list(range(7))
    assert "iterations" not in train
    # After training the run's event file is closed and no writer is left
    # as the default one.
    assert len(event_files(run_dir)) == 1
    assert open_files_under(run_dir) == []
    assert not tf.summary.scalar("stray", 1.0, step=0)

    # A second fit writes through a new writer (a second event file) and the
    # first file's summaries are kept.
    model.fit(x, y, batch_size=2, initial_epoch=7, epochs=9, verbose=0, callbacks=[board])
    values, _ = read_run(run_dir)
    assert values["iterations"] == {2: 6.0, 5: 12.0, 8: 2.0 * 9}
    assert len(event_files(run_dir)) == 2


def test_written_summaries_are_flushed_before_training_ends(tmp_path):
    model = small_model()
    board = ProbeTensorBoard(str(tmp_path))
    board.set_model(model)
    board.write_summaries(4)
    # The writer is still open: the event must be on disk already.
    assert len(open_files_under(tmp_path / "images")) == 1
    values, _ = read_run(str(tmp_path / "images"))
    assert values["iterations"] == {4: 0.0}


def test_an_error_while_writing_leaves_no_default_writer(tmp_path):
    board = ProbeTensorBoard(str(tmp_path))
    with pytest.raises(RuntimeError, match="boom"):
        with board.summaries_at(1):
            assert tf.summary.scalar("inside", 1.0)
            raise RuntimeError("boom")
    assert not tf.summary.scalar("stray", 1.0, step=0)


def test_only_the_chief_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(summary_tensorboard, "worker_role",
                        lambda model: (False, "worker", 1))
    model, (x, y) = small_model(), data()
    board = ProbeTensorBoard(str(tmp_path))
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[board])
    assert not os.path.exists(tmp_path / "images")
    train, _ = read_run(str(tmp_path / "train"))
    assert sorted(train["epoch_loss"]) == [0, 1]


def test_write_summaries_must_be_overridden(tmp_path):
    board = SummaryTensorBoard(str(tmp_path))
    with pytest.raises(NotImplementedError, match="write_summaries"):
        board.write_summaries(0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(every_n_epochs=0), "`every_n_epochs` must be an integer >= 1"),
        (dict(every_n_epochs=True), "`every_n_epochs` must be an integer >= 1"),
        (dict(every_n_epochs=2.0), "`every_n_epochs` must be an integer >= 1"),
        (dict(run_name="train"), "`run_name` must be a plain directory name"),
        (dict(run_name="validation"), "`run_name` must be a plain directory name"),
        (dict(run_name=os.path.join("a", "b")), "`run_name` must be a plain directory name"),
        (dict(run_name=""), "`run_name` must be a plain directory name"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProbeTensorBoard(str(tmp_path), **kwargs)
