"""Trains a small VQ-VAE deterministically, optionally killing itself with
SIGKILL after a given batch, and saves its final state to an `.npz`.

Run in a fresh process. Usage:
    python resume_worker.py OUT.npz [--backup DIR] [--callback ours|keras]
                            [--kill-at EPOCH:BATCH] (0-based)
"""

import argparse
import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vq_zoo.models.vqvae.vqvae import VQVAE  # noqa: E402
from vq_zoo.training import ResumableBackupAndRestore  # noqa: E402

EPOCHS = 3
BATCHES = 8
BATCH_SIZE = 8
SAVE_FREQ = 3


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--backup")
    parser.add_argument("--callback", default="ours", choices=["ours", "keras"])
    parser.add_argument("--kill-at")
    args = parser.parse_args()

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).uniform(
        size=(BATCHES * BATCH_SIZE, 16, 16, 3)
    ).astype("float32")
    # No shuffling: every epoch reads the same batches in the same order.
    data = tf.data.Dataset.from_tensor_slices(x).batch(BATCH_SIZE)
    model = VQVAE.image_model(
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=32,
    )
    model.build((None, 16, 16, 3))
    # Adam: its moments are state a resume must restore.
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    callbacks = []
    if args.backup:
        if args.callback == "ours":
            callbacks.append(ResumableBackupAndRestore(args.backup, save_freq=SAVE_FREQ))
        else:
            callbacks.append(keras.callbacks.BackupAndRestore(args.backup, save_freq=SAVE_FREQ))
    if args.kill_at:
        callbacks.append(KillAt(*map(int, args.kill_at.split(":"))))
    model.fit(data, epochs=EPOCHS, verbose=0, shuffle=False, callbacks=callbacks)
    state = {f"model/{v.path}": np.asarray(v) for v in model.weights}
    state.update(
        {f"optimizer/{i}/{v.path}": np.asarray(v)
         for i, v in enumerate(model.optimizer.variables)}
    )
    np.savez(args.out, **state)


if __name__ == "__main__":
    main()
