import os

import keras
import numpy as np
import pytest

from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.training import AtomicModelCheckpoint


def small_vqvae():
    model = VQVAE.image_model(
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=32,
    )
    model.build((None, 16, 16, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def images(n=16):
    return np.random.default_rng(0).uniform(size=(n, 16, 16, 3)).astype("float32")


class Snapshot(keras.callbacks.Callback):
    """Copies every weight (and optimizer variable) at each epoch end."""

    def __init__(self):
        super().__init__()
        self.weights, self.optimizer = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(v) for v in self.model.weights])
        self.optimizer.append([np.array(v) for v in self.model.optimizer.variables])


def test_keras_file_per_epoch_restores_weights_and_optimizer(tmp_path):
    model, snapshot = small_vqvae(), Snapshot()
    path = str(tmp_path / "ckpt" / "vqvae-{epoch:02d}.keras")
    model.fit(images(), batch_size=8, epochs=2, verbose=0,
              callbacks=[AtomicModelCheckpoint(path), snapshot])
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["vqvae-01.keras", "vqvae-02.keras"]
    for epoch in (0, 1):
        restored = keras.saving.load_model(str(tmp_path / "ckpt" / f"vqvae-{epoch + 1:02d}.keras"))
        # The same variables in the same order. (Variable paths depend on the
        # name scope a model was built under, so compare names and shapes.)
        assert [(v.name, v.shape) for v in restored.weights] == [
            (v.name, v.shape) for v in model.weights]
        for a, b in zip(restored.weights, snapshot.weights[epoch]):
            np.testing.assert_array_equal(np.asarray(a), b, err_msg=a.path)
        for a, b in zip(restored.optimizer.variables, snapshot.optimizer[epoch]):
            np.testing.assert_array_equal(np.asarray(a), b, err_msg=a.path)
    # The two epochs' codebooks differ, so the comparison above can fail.
    codebook = [v.path.endswith("quantizer/codebook") for v in model.weights].index(True)
    assert not np.array_equal(snapshot.weights[0][codebook], snapshot.weights[1][codebook])


def test_a_crash_mid_save_leaves_the_previous_checkpoint_intact(tmp_path):
    model = small_vqvae()
    path = str(tmp_path / "vqvae.weights.h5")
    checkpoint = AtomicModelCheckpoint(path)
    model.fit(images(), batch_size=8, epochs=1, verbose=0, callbacks=[checkpoint])
    saved = [np.array(v) for v in model.weights]
    original_save_weights = model.save_weights

    def crash_mid_write(filepath, overwrite=True):
        with open(filepath, "wb") as f:  # a partial, corrupt file ...
            f.write(b"\x89HDF\r\n half a file")
        raise OSError("disk full")  # ... and the writer dies.

    model.save_weights = crash_mid_write
    with pytest.raises(OSError, match="disk full"):
        model.fit(images(), batch_size=8, epochs=1, verbose=0, callbacks=[checkpoint])
    model.save_weights = original_save_weights
    # The target still holds the epoch-1 weights, and no temporary is left.
    assert os.listdir(tmp_path) == ["vqvae.weights.h5"]
    fresh = small_vqvae()
    fresh.optimizer.build(fresh.trainable_variables)
    fresh.load_weights(path)
    for a, b in zip(fresh.weights, saved):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert not np.array_equal(np.asarray(model.weights[0]), saved[0])


def test_batch_frequency_and_best_only(tmp_path):
    model = small_vqvae()
    path = str(tmp_path / "b{epoch}-{batch}.weights.h5")
    model.fit(images(32), batch_size=8, epochs=2, verbose=0,
              callbacks=[AtomicModelCheckpoint(path, save_freq=3)])
    # 4 batches an epoch, every 3rd batch counted across epochs.
    assert sorted(os.listdir(tmp_path)) == ["b1-3.weights.h5", "b2-2.weights.h5"]

    best_dir = tmp_path / "best"
    losses = []
    checkpoint = AtomicModelCheckpoint(str(best_dir / "e{epoch}.weights.h5"),
                                       save_best_only=True, monitor="loss")
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: losses.append(logs["loss"]))
    model.fit(images(32), batch_size=8, epochs=4, verbose=0, callbacks=[checkpoint, record])
    best_so_far = np.minimum.accumulate(losses)
    expected = [f"e{i + 1}.weights.h5" for i in range(4)
                if i == 0 or losses[i] < best_so_far[i - 1]]
    assert sorted(os.listdir(best_dir)) == sorted(expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(filepath="model.h5"), "`filepath` must end in `.keras`"),
        (dict(save_freq=0), "`save_freq` must be 'epoch' or an integer >= 1"),
        (dict(save_freq="batch"), "`save_freq` must be 'epoch' or an integer >= 1"),
        (dict(mode="auto"), "`mode` must be 'min' or 'max'"),
    ],
)
def test_bad_arguments(kwargs, message):
    kwargs = dict(dict(filepath="model.keras"), **kwargs)
    with pytest.raises(ValueError, match=message):
        AtomicModelCheckpoint(**kwargs)


def test_best_only_with_a_missing_metric(tmp_path):
    with pytest.raises(ValueError, match="`monitor`='val_loss' is not among the logged metrics"):
        small_vqvae().fit(images(8), verbose=0, callbacks=[AtomicModelCheckpoint(
            str(tmp_path / "m.keras"), save_best_only=True, monitor="val_loss")])
