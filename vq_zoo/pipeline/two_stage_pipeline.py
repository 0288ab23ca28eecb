"""The paper's two-stage pipeline, with stages that each resume on their own.

1. `train_vqvae`: fit the VQ-VAE; an interrupted fit resumes from its last
   backup (`BackupAndRestore`); the finished model is saved atomically.
2. `extract_codes`: encode each split with the quantiser frozen, to TFRecord
   shards (resumes at the first missing shard).
3. `train_prior`: fit the prior on the codes; the VQ-VAE is not touched.
4. `sample`: draw code maps from the prior, decode them, write a PNG grid.

A stage is complete when `stages/<name>.json` exists (written atomically,
last); a complete stage is loaded instead of run again.
"""

import io
import json
import os

import numpy as np

from vq_zoo.utils.images import image_grid
from vq_zoo.utils.images import write_atomic
from vq_zoo.utils.images import write_png


class TwoStagePipeline:
    """Runs and resumes the stages of a VQ-VAE + prior recipe in `out_dir`.

    Args:
        out_dir: folder for every artefact of the run.
        strategy: a `tf.distribute.Strategy` (None: the default strategy).
        log_dir: TensorBoard folder (default `out_dir/logs`).
        verbose: Keras verbosity for `fit` (1: progress bar, 2: a line per
            epoch).
        extra_callbacks: callable `(stage, model) -> list of callbacks`
            added to each `fit`.
        backup_every: int, batches between backups of a training stage, so
            a run killed mid-epoch resumes from at most this many batches
            back (and exactly where it was: see `ResumableBackupAndRestore`).
        tensorboard_every: int, epochs between TensorBoard image summaries
            (reconstructions, code usage and the codebook projector for the
            VQ-VAE; decoded prior samples for the prior).

    Every `fit` gets, besides: a `NaNGuard` (a NaN stops the run with a clear
    message before anything is saved), a `ResumableBackupAndRestore`, and a
    `VQVAETensorBoard` (Keras' scalars, learning rate included, plus the
    pictures above).
    """

    def __init__(self, out_dir, strategy=None, log_dir=None, verbose=1,
                 extra_callbacks=None, backup_every=100, tensorboard_every=1):
        import tensorflow as tf

        self.out_dir = out_dir
        self.strategy = strategy or tf.distribute.get_strategy()
        self.log_dir = log_dir or os.path.join(out_dir, "logs")
        self.verbose = verbose
        self.extra_callbacks = extra_callbacks or (lambda stage, model: [])
        self.backup_every = backup_every
        self.tensorboard_every = tensorboard_every
        os.makedirs(os.path.join(out_dir, "stages"), exist_ok=True)

    # ------------------------------------------------------------ stages
    def path(self, *parts):
        return os.path.join(self.out_dir, *parts)

    def is_done(self, stage):
        return os.path.exists(self.path("stages", f"{stage}.json"))

    def stage_info(self, stage):
        with open(self.path("stages", f"{stage}.json")) as f:
            return json.load(f)

    def _mark_done(self, stage, info):
        write_atomic(self.path("stages", f"{stage}.json"),
                     json.dumps(info, indent=2, default=float).encode())

    def _load(self, filename):
        import keras

        with self.strategy.scope():
            return keras.models.load_model(self.path(filename))

    def _save(self, model, filename):
        tmp = self.path(".tmp-" + filename)
        model.save(tmp)
        os.replace(tmp, self.path(filename))

    def _fit(self, stage, model, data, epochs, steps_per_epoch, validation_data,
             callbacks, tensorboard):
        from vq_zoo.training.nan_guard import NaNGuard
        from vq_zoo.training.resumable_backup_and_restore import (
            ResumableBackupAndRestore,
        )

        callbacks = [
            NaNGuard(),
            ResumableBackupAndRestore(self.path("backup", stage),
                                      save_freq=self.backup_every),
            tensorboard,
            *self.extra_callbacks(stage, model),
            *callbacks,
        ]
        history = model.fit(
            data, epochs=epochs, steps_per_epoch=steps_per_epoch,
            validation_data=validation_data, callbacks=callbacks,
            verbose=self.verbose,
        )
        return {k: float(v[-1]) for k, v in history.history.items() if v}

    def train_vqvae(self, build_model, data, epochs, steps_per_epoch=None,
                    validation_data=None, callbacks=(), sample=None):
        """Stage 1. `build_model()` returns a built, compiled `VQVAE`; it is
        called inside the strategy's scope. `sample`: a few held-out images
        shown against their reconstructions in TensorBoard."""
        from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

        if self.is_done("vqvae"):
            return self._load("vqvae.keras")
        with self.strategy.scope():
            model = build_model()
        tensorboard = VQVAETensorBoard(
            os.path.join(self.log_dir, "vqvae"), sample=sample,
            every_n_epochs=self.tensorboard_every, run_name="images")
        logs = self._fit("vqvae", model, data, epochs, steps_per_epoch,
                         validation_data, callbacks, tensorboard)
        self._save(model, "vqvae.keras")
        self._mark_done("vqvae", {"final_logs": logs, "epochs": epochs})
        return model

    def extract_codes(self, vqvae, splits, batches_per_shard=64):
        """Stage 2. `splits` maps a split name to a dataset of images or
        `(images, labels)` batches in a fixed order. Returns the manifests."""
        from vq_zoo.data.codes import write_code_shards

        if self.is_done("codes"):
            return self.stage_info("codes")["manifests"]
        manifests = {}
        for split, dataset in splits.items():
            if self.verbose:
                print(f"Extracting {split} codes ...", flush=True)
            manifests[split] = write_code_shards(
                vqvae, dataset, self.path("codes", split),
                batches_per_shard=batches_per_shard, progress=bool(self.verbose),
            )
        self._mark_done("codes", {"manifests": manifests})
        return manifests

    def code_data(self, split, batch_size, **kwargs):
        from vq_zoo.data.codes import code_dataset

        return code_dataset(self.path("codes", split), batch_size, **kwargs)

    def train_prior(self, build_prior, data, epochs, steps_per_epoch=None,
                    validation_data=None, callbacks=(), vqvae=None,
                    condition_fn=None, num_tensorboard_samples=16):
        """Stage 3. `build_prior()` returns a built, compiled prior. With the
        trained `vqvae`, decoded prior samples go to TensorBoard;
        `condition_fn(num)` gives their condition for a conditional prior."""
        import keras

        from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

        if self.is_done("prior"):
            return self._load("prior.keras")
        with self.strategy.scope():
            prior = build_prior()
        sample_fn = None
        if vqvae is not None:
            def sample_fn(num):
                condition = condition_fn(num) if condition_fn else None
                return vqvae.decode(prior.sample(num, condition=condition, seed=0))
        if sample_fn is None:
            tensorboard = keras.callbacks.TensorBoard(
                os.path.join(self.log_dir, "prior"))
        else:
            tensorboard = VQVAETensorBoard(
                os.path.join(self.log_dir, "prior"), sample=None,
                sample_fn=sample_fn, num_prior_samples=num_tensorboard_samples,
                every_n_epochs=self.tensorboard_every, run_name="images")
        logs = self._fit("prior", prior, data, epochs, steps_per_epoch,
                         validation_data, callbacks, tensorboard)
        self._save(prior, "prior.keras")
        self._mark_done("prior", {"final_logs": logs, "epochs": epochs})
        return prior

    def sample(self, vqvae, prior, num, condition=None, seed=0,
               temperature=1.0, filename="samples.png", columns=8):
        """Stage 4. Draws `num` code maps, decodes them, writes a PNG grid
        and returns the images."""
        codes = prior.sample(num, condition=condition, seed=seed,
                             temperature=temperature)
        images = np.asarray(vqvae.decode(codes))
        write_png(self.path(filename), image_grid(images, columns=columns))
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(codes))
        write_atomic(self.path("sample_codes.npy"), buffer.getvalue())
        self._mark_done("sample", {"num": num, "seed": seed, "file": filename})
        return images
