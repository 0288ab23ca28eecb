"""The shared scaffold of vq_zoo's TensorBoard callbacks: Keras' scalars plus
a run of extra summaries written every few epochs."""

import contextlib
import os

import keras

from vq_zoo.training._cluster import worker_role
from vq_zoo.utils.checks import check_positive_int


class SummaryTensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` plus extra summaries in a run of their own.

    Keras' callback writes the scalars under `log_dir/train` and
    `log_dir/validation`. Every `every_n_epochs` epochs (counting from 1:
    epochs `every_n_epochs - 1, 2 * every_n_epochs - 1, ...` 0-based) this
    callback also calls `write_summaries(epoch)`, which subclasses override
    to write their images, audio or histograms inside `summaries_at(step)`:
    the run `log_dir/<run_name>`'s writer, opened on first use, made the
    default writer at `step` and flushed afterwards. The writer is closed
    when training ends, and reopened (appending a new event file) by the
    next write, e.g. in a later `fit`.

    Under `MultiWorkerMirroredStrategy` only the chief writes the extras
    (every worker would otherwise write the same summaries into the same
    run).

    Args:
        log_dir: the TensorBoard log directory.
        every_n_epochs: int >= 1, how often to write the extras.
        run_name: the subdirectory of `log_dir` for the extras: a plain
            directory name other than Keras' `train` and `validation`.
        **kwargs: passed to `keras.callbacks.TensorBoard`.

    Example:
    >>> class SampleTensorBoard(SummaryTensorBoard):
    ...     def write_summaries(self, step):
    ...         with self.summaries_at(step):
    ...             tf.summary.image("samples", self.model.sample(4))
    >>> model.fit(x, epochs=10, callbacks=[SampleTensorBoard("logs", 5)])
    """

    def __init__(self, log_dir, every_n_epochs=1, run_name="images", **kwargs):
        super().__init__(log_dir=log_dir, **kwargs)
        check_positive_int("every_n_epochs", every_n_epochs)
        if not run_name or os.sep in run_name or run_name in ("train", "validation"):
            raise ValueError(
                "`run_name` must be a plain directory name other than 'train' "
                f"and 'validation' (Keras' runs). Received: run_name={run_name!r}"
            )
        self.every_n_epochs = every_n_epochs
        self.run_name = run_name
        self.run_dir = os.path.join(str(log_dir), run_name)
        self._run_writer = None

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if (epoch + 1) % self.every_n_epochs == 0 and worker_role(self.model)[0]:
            self.write_summaries(epoch)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self._run_writer is not None:
            self._run_writer.close()
            self._run_writer = None

    @contextlib.contextmanager
    def summaries_at(self, step):
        """A context in which `tf.summary` calls write to `run_dir` at
        `step`; the writer is flushed when it ends, so the summaries are on
        disk (TensorBoard shows them) before training ends."""
        import tensorflow as tf

        if self._run_writer is None:
            self._run_writer = tf.summary.create_file_writer(self.run_dir)
        with self._run_writer.as_default(step=int(step)):
            yield self._run_writer
        self._run_writer.flush()

    def write_summaries(self, step):
        """Writes the extras at `step` now (subclasses override this)."""
        raise NotImplementedError(
            f"{type(self).__name__} must override `write_summaries(step)`."
        )


__all__ = ["SummaryTensorBoard"]
