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
from google.protobuf import text_format
from tensorboard.plugins import projector

from vq_zoo.training.vqvae_tensorboard import PROJECTOR_TENSOR_NAME
from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

NUM_EMBEDDINGS = 32
LEARNING_RATE = 3e-3


def small_model(ema=True, optimizer=None):
    model = VQVAE.image_model(
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=NUM_EMBEDDINGS, ema=ema,
    )
    model.build((None, 16, 16, 3))
    model.compile(optimizer=optimizer or keras.optimizers.Adam(LEARNING_RATE))
    return model


def read_projector(run_dir):
    """The run's projector config, its codebook tensor and metadata rows."""
    config = projector.ProjectorConfig()
    with open(os.path.join(run_dir, "projector_config.pbtxt")) as f:
        text_format.Parse(f.read(), config)
    (embedding,) = config.embeddings
    tensor = np.loadtxt(os.path.join(run_dir, embedding.tensor_path),
                        delimiter="\t", dtype=np.float32, ndmin=2)
    with open(os.path.join(run_dir, embedding.metadata_path)) as f:
        rows = [line.split("\t") for line in f.read().splitlines()]
    return embedding, tensor, rows


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
    model = small_model()  # an EMA quantiser
    callback = VQVAETensorBoard(
        log_dir, sample, every_n_epochs=2, sample_fn=prior_images,
        num_prior_samples=6, columns=4,
    )
    history = model.fit(x, epochs=4, batch_size=16, verbose=0, callbacks=[callback],
                        validation_data=(x[:16],))
    return log_dir, model, sample, history.history


def test_keras_scalars_and_learning_rate(trained):
    log_dir, _, _, _ = trained
    values, plugins = read_run(os.path.join(log_dir, "train"))
    for name in ("loss", "reconstruction_loss", "commitment_loss",
                 "perplexity", "codebook_usage", "learning_rate"):
        assert plugins[f"epoch_{name}"] == "scalars"
        assert sorted(values[f"epoch_{name}"]) == [0, 1, 2, 3], name
    for value in values["epoch_learning_rate"].values():
        assert value == pytest.approx(LEARNING_RATE)
    validation, _ = read_run(os.path.join(log_dir, "validation"))
    assert sorted(validation["epoch_loss"]) == [0, 1, 2, 3]


def test_ema_codebook_loss_is_left_out_of_tensorboard_only(trained):
    # The EMA codebook learns no gradient: its codebook_loss is always 0.
    log_dir, _, _, history = trained
    assert history["codebook_loss"] == [0.0] * 4
    assert history["val_codebook_loss"] == [0.0] * 4
    for run in ("train", "validation"):
        values, _ = read_run(os.path.join(log_dir, run))
        assert "epoch_loss" in values
        assert not [tag for tag in values if "codebook_loss" in tag], run


def test_ema_codebook_loss_is_left_out_of_batch_and_evaluation_scalars(tmp_path):
    model = small_model()
    x = np.random.default_rng(3).uniform(size=(16, 16, 16, 3)).astype("float32")
    callback = VQVAETensorBoard(str(tmp_path), x[:2], update_freq=1)
    model.fit(x, epochs=1, batch_size=8, verbose=0, callbacks=[callback],
              validation_data=(x[:8],))
    train, _ = read_run(str(tmp_path / "train"))
    validation, _ = read_run(str(tmp_path / "validation"))
    # Keras wrote per-batch and evaluation scalars ...
    assert {"batch_loss", "batch_commitment_loss"} <= set(train)
    assert "evaluation_loss_vs_iterations" in validation
    # ... none of them the EMA codebook's constant codebook_loss.
    assert not [t for t in list(train) + list(validation) if "codebook_loss" in t]


def test_gradient_codebook_loss_is_shown_and_counts_are_the_epochs(tmp_path):
    # A trained (non-EMA) codebook: codebook_loss is a real curve. With a
    # learning rate of 0 the weights stay as they are, so the epoch's code
    # counts are those of encoding the training images with the final model.
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(24, 16, 16, 3)).astype("float32")
    held_out = rng.uniform(size=(8, 16, 16, 3)).astype("float32")
    model = small_model(ema=False, optimizer=keras.optimizers.SGD(0.0))
    callback = VQVAETensorBoard(str(tmp_path), held_out[:4])
    model.fit(x, epochs=2, batch_size=8, verbose=0, callbacks=[callback],
              validation_data=(held_out,))
    values, _ = read_run(str(tmp_path / "train"))
    assert sorted(values["epoch_codebook_loss"]) == [0, 1]
    assert all(v > 0 for v in values["epoch_codebook_loss"].values())
    validation, _ = read_run(str(tmp_path / "validation"))
    assert sorted(validation["epoch_codebook_loss"]) == [0, 1]

    _, _, rows = read_projector(str(tmp_path / "vqvae"))
    expected = np.bincount(np.asarray(model.encode(x)).ravel(), minlength=NUM_EMBEDDINGS)
    assert rows[0] == ["code", "count", "status"]
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(NUM_EMBEDDINGS)]
    assert [int(r[1]) for r in rows[1:]] == expected.tolist()
    assert [r[2] for r in rows[1:]] == ["alive" if c else "dead" for c in expected]
    # Both kinds occur, so the status column is really checked.
    assert {"alive", "dead"} == {r[2] for r in rows[1:]}


def test_reconstruction_grid(trained):
    log_dir, model, sample, _ = trained
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
    log_dir, _, _, _ = trained
    values, plugins = read_run(os.path.join(log_dir, "vqvae"))
    assert plugins["prior_samples"] == "images"
    assert sorted(values["prior_samples"]) == [1, 3]
    grid = values["prior_samples"][1]
    assert grid.shape == (2 * 17 + 1, 4 * 17 + 1, 3)
    for i, level in enumerate((np.arange(6) + 1) / 7):
        assert np.all(np.abs(tile(grid, *divmod(i, 4)) - level * 255) <= 0.5)


def test_code_usage_histogram(trained):
    log_dir, model, sample, _ = trained
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


def test_projector_files_hold_the_codebook_and_its_usage(trained):
    log_dir, model, _, _ = trained
    embedding, tensor, rows = read_projector(os.path.join(log_dir, "vqvae"))
    assert embedding.tensor_name == PROJECTOR_TENSOR_NAME == "codebook"
    assert list(embedding.tensor_shape) == [NUM_EMBEDDINGS, 8]
    # The last written epoch's codebook, bit for bit.
    np.testing.assert_array_equal(tensor, np.asarray(model.quantizer.codebook))
    assert rows[0] == ["code", "count", "status"] and len(rows) == NUM_EMBEDDINGS + 1
    counts = np.array([int(r[1]) for r in rows[1:]])
    # One epoch of training: 48 images of 4x4 codes each (not the 16
    # validation images, nor the 10-image sample).
    assert counts.sum() == 48 * 4 * 4
    assert [r[2] for r in rows[1:]] == ["alive" if c else "dead" for c in counts]
    assert not tf.io.gfile.glob(os.path.join(log_dir, "vqvae", "*.ckpt*"))


def test_tensorboard_projector_plugin_serves_the_codebook(trained):
    # What `tensorboard --logdir` would show: the projector plugin's own
    # HTTP routes over the log directory.
    log_dir, model, _, _ = trained
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
    info = json.loads(Client(apps["/info"]).get("/info", query_string={"run": "vqvae"})
                      .get_data())
    assert [e["tensorName"] for e in info["embeddings"]] == [PROJECTOR_TENSOR_NAME]
    metadata = Client(apps["/metadata"]).get(
        "/metadata", query_string={"run": "vqvae", "name": PROJECTOR_TENSOR_NAME})
    assert metadata.status_code == 200
    lines = metadata.get_data(as_text=True).splitlines()
    assert lines[0] == "code\tcount\tstatus" and len(lines) == NUM_EMBEDDINGS + 1
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
    _, tensor, rows = read_projector(str(tmp_path / "vqvae"))
    assert tensor.shape == (NUM_EMBEDDINGS, 8) and len(rows) == NUM_EMBEDDINGS + 1


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
