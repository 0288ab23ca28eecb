import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
from werkzeug.test import Client

from tests.training.events import read_run
from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.training.vqvae_tensorboard import PROJECTOR_TENSOR_NAME
from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

NUM_EMBEDDINGS = 32
LEARNING_RATE = 3e-3


def small_model():
    model = VQVAE.image_model(
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=NUM_EMBEDDINGS,
    )
    model.build((None, 16, 16, 3))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    return model


def prior_images(num):
    # Flat grey images, image i at level (i + 1) / (num + 1): easy to find in the grid.
    levels = (np.arange(num, dtype=np.float32) + 1) / (num + 1)
    return np.broadcast_to(levels[:, None, None, None], (num, 16, 16, 3)).copy()


def tile(grid, row, col, size=16, padding=1):
    y, x = padding + row * (size + padding), padding + col * (size + padding)
    return grid[y:y + size, x:x + size]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    log_dir = str(tmp_path_factory.mktemp("logs"))
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(48, 16, 16, 3)).astype("float32")
    sample = rng.uniform(size=(10, 16, 16, 3)).astype("float32")
    model = small_model()
    callback = VQVAETensorBoard(
        log_dir, sample, every_n_epochs=2, sample_fn=prior_images,
        num_prior_samples=6, columns=4,
    )
    model.fit(x, epochs=4, batch_size=16, verbose=0, callbacks=[callback],
              validation_data=(x[:16],))
    return log_dir, model, sample


def test_keras_scalars_and_learning_rate(trained):
    log_dir, _, _ = trained
    values, plugins = read_run(os.path.join(log_dir, "train"))
    for name in ("loss", "reconstruction_loss", "codebook_loss",
                 "commitment_loss", "perplexity", "codebook_usage",
                 "learning_rate"):
        assert plugins[f"epoch_{name}"] == "scalars"
        assert sorted(values[f"epoch_{name}"]) == [0, 1, 2, 3], name
    for value in values["epoch_learning_rate"].values():
        assert value == pytest.approx(LEARNING_RATE)
    validation, _ = read_run(os.path.join(log_dir, "validation"))
    assert sorted(validation["epoch_loss"]) == [0, 1, 2, 3]


def test_reconstruction_grid(trained):
    log_dir, model, sample = trained
    values, plugins = read_run(os.path.join(log_dir, "vqvae"))
    assert plugins["reconstructions"] == "images"
    # Every 2nd epoch, at Keras' 0-based epoch step.
    assert sorted(values["reconstructions"]) == [1, 3]
    grid = values["reconstructions"][3]
    # 10 images, 4 to a row: 3 pairs of rows of 16x16 tiles, 1-pixel padding.
    assert grid.shape == (6 * 17 + 1, 4 * 17 + 1, 3)
    expected_recon = np.asarray(model(sample, training=False))
    for i in range(10):
        pair, col = divmod(i, 4)
        original = tile(grid, 2 * pair, col).astype(np.float32) / 255
        recon = tile(grid, 2 * pair + 1, col).astype(np.float32) / 255
        np.testing.assert_allclose(original, sample[i], atol=0.5 / 255 + 1e-6)
        np.testing.assert_allclose(
            recon, np.clip(expected_recon[i], 0, 1), atol=0.5 / 255 + 1e-6
        )
    # Padding after the 10th image is blank (white), not a stale image.
    assert np.all(tile(grid, 4, 2) == 255) and np.all(tile(grid, 5, 3) == 255)
    # The epoch-1 grid shows an earlier model, so its reconstructions differ.
    assert not np.array_equal(values["reconstructions"][1], grid)


def test_prior_sample_grid(trained):
    log_dir, _, _ = trained
    values, plugins = read_run(os.path.join(log_dir, "vqvae"))
    assert plugins["prior_samples"] == "images"
    assert sorted(values["prior_samples"]) == [1, 3]
    grid = values["prior_samples"][1]
    assert grid.shape == (2 * 17 + 1, 4 * 17 + 1, 3)
    for i, level in enumerate((np.arange(6) + 1) / 7):
        assert np.all(np.abs(tile(grid, *divmod(i, 4)) - level * 255) <= 0.5)


def test_code_usage_histogram(trained):
    log_dir, model, sample = trained
    values, plugins = read_run(os.path.join(log_dir, "vqvae"))
    assert plugins["code_usage"] == "histograms"
    assert sorted(values["code_usage"]) == [1, 3]
    buckets = values["code_usage"][3]
    assert buckets.shape == (NUM_EMBEDDINGS, 3)
    np.testing.assert_array_equal(buckets[:, 0], np.arange(NUM_EMBEDDINGS) - 0.5)
    np.testing.assert_array_equal(buckets[:, 1], np.arange(NUM_EMBEDDINGS) + 0.5)
    codes = np.asarray(model.encode(sample)).ravel()
    np.testing.assert_array_equal(
        buckets[:, 2], np.bincount(codes, minlength=NUM_EMBEDDINGS)
    )
    assert buckets[:, 2].sum() == 10 * 4 * 4


def test_projector_checkpoint_holds_the_codebook(trained):
    log_dir, model, sample = trained
    run_dir = os.path.join(log_dir, "vqvae")
    assert os.path.exists(os.path.join(run_dir, "projector_config.pbtxt"))
    latest = tf.train.latest_checkpoint(run_dir)
    assert os.path.basename(latest) == "codebook.ckpt-3"
    # Only the latest checkpoint is kept.
    assert not tf.io.gfile.glob(os.path.join(run_dir, "codebook.ckpt-1*"))
    stored = tf.train.load_checkpoint(latest).get_tensor(PROJECTOR_TENSOR_NAME)
    np.testing.assert_array_equal(stored, np.asarray(model.quantizer.codebook))
    with open(os.path.join(run_dir, "codebook_metadata.tsv")) as f:
        rows = [line.split("\t") for line in f.read().splitlines()]
    assert rows[0] == ["index", "count"] and len(rows) == NUM_EMBEDDINGS + 1
    codes = np.asarray(model.encode(sample)).ravel()
    counts = np.bincount(codes, minlength=NUM_EMBEDDINGS)
    assert [int(r[1]) for r in rows[1:]] == counts.tolist()


def test_tensorboard_projector_plugin_serves_the_codebook(trained):
    # What `tensorboard --logdir` would show: the projector plugin's own
    # HTTP routes over the log directory.
    log_dir, model, _ = trained
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(log_dir)
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=log_dir,
        multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, log_dir),
    )
    apps = ProjectorPlugin(context).get_plugin_apps()
    runs = json.loads(Client(apps["/runs"]).get("/runs").get_data())
    assert runs == ["vqvae"]
    response = Client(apps["/tensor"]).get(
        "/tensor", query_string={"run": "vqvae", "name": PROJECTOR_TENSOR_NAME}
    )
    assert response.status_code == 200
    served = np.frombuffer(response.get_data(), np.float32)
    np.testing.assert_array_equal(
        served.reshape(NUM_EMBEDDINGS, 8), np.asarray(model.quantizer.codebook)
    )


def test_every_n_epochs_counts_from_one(tmp_path):
    model = small_model()
    x = np.random.default_rng(1).uniform(size=(16, 16, 16, 3)).astype("float32")
    callback = VQVAETensorBoard(str(tmp_path), x[:4], every_n_epochs=3)
    model.fit(x, epochs=4, batch_size=8, verbose=0, callbacks=[callback])
    values, _ = read_run(str(tmp_path / "vqvae"))
    assert sorted(values["reconstructions"]) == [2]
    assert "prior_samples" not in values
    assert os.path.basename(tf.train.latest_checkpoint(str(tmp_path / "vqvae"))) == "codebook.ckpt-2"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(every_n_epochs=0), "`every_n_epochs` must be an integer >= 1"),
        (dict(columns=2.0), "`columns` must be an integer >= 1"),
        (dict(sample=np.zeros((4, 16, 16))), "`sample` must be a non-empty batch"),
        (dict(sample=np.zeros((4, 16, 16, 2))), "with 1, 3 or 4 channels"),
        (dict(sample_fn=3), "`sample_fn` must be a callable"),
        (dict(run_name="train"), "`run_name` must be a plain directory name"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    kwargs = dict(dict(sample=np.zeros((4, 16, 16, 3))), **kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        VQVAETensorBoard(str(tmp_path), **kwargs)
