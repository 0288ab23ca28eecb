"""TensorBoard for VQ-VAE training: Keras' scalars plus reconstructions,
prior samples, code usage and the codebook in the embedding projector."""

import os

import numpy as np

from vq_zoo.training.summary_tensorboard import SummaryTensorBoard
from vq_zoo.utils.checks import check_positive_int
from vq_zoo.utils.images import image_grid
from vq_zoo.utils.io import write_atomic

# The codebook's name in the embedding projector, and its files in the run
# directory (paths in the projector config are relative to it).
PROJECTOR_TENSOR_NAME = "codebook"
PROJECTOR_TENSOR_FILE = "codebook.tsv"
PROJECTOR_METADATA_FILE = "codebook_metadata.tsv"
PROJECTOR_METADATA_HEADER = ("code", "count", "status")
# Logged by every VQ-VAE but 0 by design for an EMA quantiser, whose codebook
# is not trained by gradients: left out of TensorBoard for those.
EMA_CONSTANT_METRICS = ("codebook_loss",)


class VQVAETensorBoard(SummaryTensorBoard):
    """`keras.callbacks.TensorBoard` with VQ-VAE pictures and codebook views.

    Keras' callback writes the scalars: every metric `fit` logs (`loss`,
    `reconstruction_loss`, `codebook_loss`, `commitment_loss`, `perplexity`,
    `codebook_usage`, their `val_` twins) and the optimizer's
    `learning_rate`, as `epoch_<name>` under `log_dir/train` and
    `log_dir/validation`. For a model whose quantiser is a
    `VectorQuantizerEMA` (its codebook follows moving averages, not
    gradients) `codebook_loss` is 0 by design, so it is left out of
    TensorBoard (it stays in `fit`'s history). Every `every_n_epochs`
    epochs (counting from 1) this callback also writes, to the run
    `log_dir/<run_name>` at step `epoch` (0-based, the step Keras uses for
    the epoch scalars):

    - `reconstructions`: an image grid of the fixed `sample` (odd rows)
      above its reconstructions (even rows), `columns` images to a row;
    - `prior_samples`: a grid of `sample_fn(num_prior_samples)`, when
      `sample_fn` is given (e.g. codes from a prior, decoded by the VQ-VAE);
    - `code_usage`: a histogram with one bucket per code index,
      `[i - 0.5, i + 0.5)`, counting how often code `i` encodes `sample`;
    - the codebook `(num_embeddings, embedding_dim)` for TensorBoard's
      embedding projector, as the tensor `codebook`: `codebook.tsv` (one row
      per code, the latest epoch's values), `codebook_metadata.tsv` and
      `projector_config.pbtxt`. The metadata has a header row and one row
      per code: `code` (its index), `count` (how often the code was chosen
      in the epoch's training batches, over all replicas: the model's
      `CodebookUsage` counts; after a mid-epoch resume only the batches
      trained since) and `status` (`alive` if chosen at least once, else
      `dead`), so the projector can colour or label the codebook by use.
      TensorBoard's projector reads a run's codebook once and caches it: to
      see a later epoch's codebook in a running TensorBoard, restart it.

    Under `MultiWorkerMirroredStrategy` only the chief writes these extras.

    With `sample=None` (and a `sample_fn`) only the prior samples are
    written: the form the prior stage of a two-stage run uses, where the
    model being fit is the prior.

    Args:
        log_dir: the TensorBoard log directory.
        sample: float images `(n, height, width, channels)` in [0, 1],
            channels 1, 3 or 4: a fixed held-out batch; or None.
        every_n_epochs: int >= 1, how often to write the extras.
        sample_fn: optional callable `num -> images (num, h, w, c)` in [0, 1].
        num_prior_samples: int >= 1, images asked of `sample_fn`.
        columns: int >= 1, images per grid row.
        run_name: the subdirectory of `log_dir` for the extras.
        **kwargs: passed to `keras.callbacks.TensorBoard`.

    Example:
    >>> tensorboard = VQVAETensorBoard("logs", sample=x_test[:16],
    ...                                every_n_epochs=5)
    >>> model.fit(train, epochs=50, callbacks=[tensorboard])
    """

    def __init__(
        self,
        log_dir,
        sample,
        every_n_epochs=1,
        sample_fn=None,
        num_prior_samples=16,
        columns=8,
        run_name="vqvae",
        **kwargs,
    ):
        super().__init__(log_dir, every_n_epochs=every_n_epochs, run_name=run_name,
                         **kwargs)
        for arg, value in (
            ("num_prior_samples", num_prior_samples),
            ("columns", columns),
        ):
            check_positive_int(arg, value)
        if sample is None and sample_fn is None:
            raise ValueError(
                "Pass `sample` (held-out images, for a VQ-VAE), `sample_fn` "
                "(num -> images, e.g. decoded prior samples), or both."
            )
        sample = None if sample is None else np.asarray(sample, np.float32)
        if sample is not None and (
            sample.ndim != 4 or sample.shape[0] < 1 or sample.shape[-1] not in (1, 3, 4)
        ):
            raise ValueError(
                "`sample` must be a non-empty batch of images (n, height, "
                "width, channels) with 1, 3 or 4 channels. Received shape "
                f"{sample.shape}"
            )
        if sample_fn is not None and not callable(sample_fn):
            raise ValueError(
                f"`sample_fn` must be a callable num -> images. Received: {sample_fn!r}"
            )
        self.sample = sample
        self.sample_fn = sample_fn
        self.num_prior_samples = num_prior_samples
        self.columns = columns
        self._in_epoch = False
        self._epoch_counts = None

    # ---------------------------------------------------------------- keras
    def _hidden_metrics(self):
        """Logged names left out of TensorBoard (see the class docstring)."""
        quantizer = getattr(self.model, "quantizer", None)
        if getattr(quantizer, "codebook_trainable", True):
            return frozenset()
        return frozenset(
            prefix + name for name in EMA_CONSTANT_METRICS for prefix in ("", "val_")
        )

    def _shown(self, logs):
        hidden = self._hidden_metrics()
        if not isinstance(logs, dict) or not hidden:
            return logs
        return {k: v for k, v in logs.items() if k not in hidden}

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._shown(logs))

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._in_epoch = True
        self._epoch_counts = None

    def on_test_begin(self, logs=None):
        super().on_test_begin(logs)
        # `fit` validates after the epoch's training batches, and `evaluate`
        # resets the model's metrics: keep the training counts first.
        if self._in_epoch and self._epoch_counts is None:
            self._epoch_counts = self._model_code_counts()

    def on_test_end(self, logs=None):
        super().on_test_end(self._shown(logs))

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_counts is None:
            self._epoch_counts = self._model_code_counts()
        self._in_epoch = False
        super().on_epoch_end(epoch, self._shown(logs))

    # ---------------------------------------------------------------- write
    def _model_code_counts(self):
        """The code counts so far of the model's `CodebookUsage` metric for
        its quantizer (None without one)."""
        from vq_zoo.metrics.codebook_usage import CodebookUsage

        quantizer = getattr(self.model, "quantizer", None)
        if self.sample is None or quantizer is None:
            return None
        usage = [
            m for m in self.model.metrics
            if isinstance(m, CodebookUsage) and m.num_embeddings == quantizer.num_embeddings
        ]
        if len(usage) != 1:
            return None
        return np.asarray(usage[0].counts, np.float64)

    def write_summaries(self, step):
        """Writes every extra at `step` now. Also usable outside `fit`: the
        projector's counts are then the last epoch's of the last `fit`, or,
        before any, the model's `CodebookUsage` counts as they are."""
        import tensorflow as tf

        model = self.model
        x = self.sample
        if x is not None:
            reconstructions = np.asarray(model(x, training=False), np.float32)
            codes = np.asarray(model.encode(x)).reshape(-1)
            num_embeddings = model.quantizer.num_embeddings
            counts = np.bincount(codes, minlength=num_embeddings).astype(np.float64)
            epoch_counts = self._epoch_counts
            if epoch_counts is None:
                epoch_counts = self._model_code_counts()
            if epoch_counts is None:  # a model without `CodebookUsage`
                epoch_counts = counts
            # The projector's files first: when the run's event file appears
            # in TensorBoard, its projector config is already there.
            self._write_projector(np.asarray(model.quantizer.codebook), epoch_counts)
        with self.summaries_at(step):
            if x is not None:
                tf.summary.image(
                    "reconstructions",
                    self._paired_grid(x, reconstructions)[None],
                    description="Held-out originals (odd rows) above their "
                    "reconstructions (even rows).",
                )
                self._write_code_histogram(counts)
            if self.sample_fn is not None:
                samples = np.asarray(self.sample_fn(self.num_prior_samples), np.float32)
                tf.summary.image(
                    "prior_samples",
                    image_grid(samples, self.columns)[None],
                    description="Samples of the prior, decoded.",
                )

    def _paired_grid(self, originals, reconstructions):
        rows = []
        for start in range(0, len(originals), self.columns):
            chunk = slice(start, start + self.columns)
            for part in (originals[chunk], reconstructions[chunk]):
                pad = self.columns - len(part)
                if pad:
                    part = np.concatenate([part, np.ones((pad,) + part.shape[1:], part.dtype)])
                rows.append(part)
        return image_grid(np.concatenate(rows), self.columns)

    @staticmethod
    def _write_code_histogram(counts):
        import tensorflow as tf
        from tensorboard.plugins.histogram import metadata as histogram_metadata

        index = np.arange(len(counts), dtype=np.float64)
        # TensorBoard's histogram format: rows of [left edge, right edge, count].
        buckets = np.stack([index - 0.5, index + 0.5, counts], axis=1)
        tf.summary.write(
            "code_usage",
            tf.constant(buckets, tf.float64),
            metadata=histogram_metadata.create_summary_metadata(
                "code_usage",
                "How often each code index encodes the fixed sample.",
            ),
        )

    def _write_projector(self, codebook, counts):
        from google.protobuf import text_format
        from tensorboard.plugins import projector

        os.makedirs(self.run_dir, exist_ok=True)
        num_embeddings, embedding_dim = codebook.shape
        # 9 significant digits: every float32 reads back exactly.
        rows = ["\t".join(f"{v:.9g}" for v in row) for row in codebook.astype(np.float32)]
        write_atomic(
            os.path.join(self.run_dir, PROJECTOR_TENSOR_FILE),
            ("\n".join(rows) + "\n").encode(),
        )
        lines = ["\t".join(PROJECTOR_METADATA_HEADER)] + [
            f"{i}\t{int(c)}\t{'alive' if c > 0 else 'dead'}" for i, c in enumerate(counts)
        ]
        write_atomic(
            os.path.join(self.run_dir, PROJECTOR_METADATA_FILE),
            ("\n".join(lines) + "\n").encode(),
        )
        config = projector.ProjectorConfig()
        embedding = config.embeddings.add()
        embedding.tensor_name = PROJECTOR_TENSOR_NAME
        embedding.tensor_shape.extend([num_embeddings, embedding_dim])
        embedding.tensor_path = PROJECTOR_TENSOR_FILE
        embedding.metadata_path = PROJECTOR_METADATA_FILE
        write_atomic(
            os.path.join(self.run_dir, "projector_config.pbtxt"),
            text_format.MessageToString(config).encode(),
        )
