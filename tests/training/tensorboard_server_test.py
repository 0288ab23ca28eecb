"""A real `tensorboard --logdir` over a tiny VQ-VAE run's log directory shows
every chart the VQVAETensorBoard docs promise, read through its HTTP routes
as the browser does."""

import keras
import numpy as np
import pytest

from tests.training.tensorboard_server import VQVAE_PLUGINS
from tests.training.tensorboard_server import tensorboard_server
from vq_zoo.models.vqvae.vqvae import VQVAE
from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard

NUM_EMBEDDINGS = 16
EMBEDDING_DIM = 4
TRAIN_SCALARS = ("loss", "reconstruction_loss", "commitment_loss", "perplexity",
                 "codebook_usage", "learning_rate")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    keras.utils.set_random_seed(0)
    log_dir = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, 8, 8, 3)).astype("float32")
    model = VQVAE.image_model(  # EMA quantiser: no codebook_loss chart
        num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
        embedding_dim=EMBEDDING_DIM, num_embeddings=NUM_EMBEDDINGS,
        num_downsamples=1,
    )
    model.build((None, 8, 8, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    callback = VQVAETensorBoard(
        str(log_dir), x[:4], sample_fn=lambda n: x[:n], num_prior_samples=4)
    history = model.fit(x, epochs=2, batch_size=8, verbose=0, callbacks=[callback],
                        validation_data=(x[:8],))
    with tensorboard_server(log_dir) as server:
        yield server, model, history.history


def test_the_vqvae_plugins_are_enabled(served):
    server, _, _ = served
    listing = server.wait_for_plugins(VQVAE_PLUGINS)
    assert set(VQVAE_PLUGINS) <= set(listing)


def test_scalar_charts_are_the_logged_metrics(served):
    server, _, history = served
    expected = {"train": [f"epoch_{n}" for n in TRAIN_SCALARS],
                "validation": ["epoch_loss", "epoch_perplexity", "epoch_codebook_usage"]}
    tags = server.tags("scalars", expected)
    for run, names in expected.items():
        assert set(names) <= set(tags.get(run, {})), (run, sorted(tags.get(run, {})))
        # The EMA quantiser's codebook_loss, 0 by design, has no chart.
        assert not [t for t in tags[run] if "codebook_loss" in t], run
    # The curves hold the values `fit` reported, one point per epoch.
    for run, prefix in (("train", ""), ("validation", "val_")):
        for name in ("loss", "perplexity", "codebook_usage"):
            points = server.json("/data/plugin/scalars/scalars",
                                 run=run, tag=f"epoch_{name}")
            assert [step for _, step, _ in points] == [0, 1]
            np.testing.assert_allclose([v for _, _, v in points],
                                       history[prefix + name], rtol=1e-6)


def test_image_and_histogram_charts(served):
    server, _, _ = served
    images = server.tags("images", {"vqvae": ["reconstructions", "prior_samples"]})
    assert {"reconstructions", "prior_samples"} <= set(images.get("vqvae", {})), images
    histograms = server.tags("histograms", {"vqvae": ["code_usage"]})
    assert "code_usage" in histograms.get("vqvae", {}), histograms
    # One PNG per written epoch, served as an image.
    entries = server.json("/data/plugin/images/images", run="vqvae", tag="reconstructions")
    assert [e["step"] for e in entries] == [0, 1]
    status, body = server.get("/data/plugin/images/individualImage" + "?" + entries[-1]["query"])
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"


def test_projector_shows_the_codebook_by_name_with_usage(served):
    server, model, _ = served
    server.wait_for_plugins(("projector",))
    assert server.json("/data/plugin/projector/runs") == ["vqvae"]
    info = server.json("/data/plugin/projector/info", run="vqvae")
    assert [(e["tensorName"], e["tensorShape"]) for e in info["embeddings"]] == [
        ("codebook", [NUM_EMBEDDINGS, EMBEDDING_DIM])]
    status, body = server.get("/data/plugin/projector/tensor", run="vqvae", name="codebook")
    assert status == 200
    np.testing.assert_array_equal(
        np.frombuffer(body, np.float32).reshape(NUM_EMBEDDINGS, EMBEDDING_DIM),
        np.asarray(model.quantizer.codebook))
    status, body = server.get("/data/plugin/projector/metadata", run="vqvae", name="codebook")
    assert status == 200
    rows = [line.split("\t") for line in body.decode().splitlines()]
    assert rows[0] == ["code", "count", "status"] and len(rows) == NUM_EMBEDDINGS + 1
    # The second epoch's 16 training images of 4x4 codes each.
    assert sum(int(r[1]) for r in rows[1:]) == 16 * 4 * 4
