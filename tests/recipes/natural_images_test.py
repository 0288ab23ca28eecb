import json
import math
import os

import numpy as np
import tensorflow as tf
import keras

from vq_zoo.recipes.natural_images import config as config_lib
from vq_zoo.recipes.natural_images import recipe
from tests.training.events import read_run


def test_smoke_pipeline_end_to_end_and_stage_resume(tmp_path):
    out = str(tmp_path / "run")
    config = config_lib.CONFIGS["smoke"]
    metrics = recipe.main(config, out_dir=out, verbose=0)
    for name in ("vqvae.keras", "prior.keras", "samples.png", "reconstructions.png",
                 "metrics.json", "sample_codes.npy"):
        assert os.path.exists(os.path.join(out, name)), name
    for stage in ("vqvae", "codes", "prior", "sample"):
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    assert json.load(open(os.path.join(out, "metrics.json"))) == json.loads(json.dumps(metrics))
    assert metrics["test_psnr_db"] == np.float64(10 * math.log10(1 / metrics["test_mse"]))
    # Samples are decoded code maps drawn from the prior.
    codes = np.load(os.path.join(out, "sample_codes.npy"))
    assert codes.shape == (config.num_samples, 8, 8)
    assert codes.min() >= 0 and codes.max() < config.num_embeddings
    grid = tf.io.decode_png(open(os.path.join(out, "samples.png"), "rb").read())
    assert tuple(grid.shape) == (33 + 1, 8 * 33 + 1, 3)
    # The codes on disk are the VQ-VAE's codes of the test patches.
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    manifest = json.load(open(os.path.join(out, "codes", "test", "manifest.json")))
    assert manifest["num_examples"] == config.test_patches
    # TensorBoard: every loss, perplexity, usage and the learning rate as
    # scalars; reconstructions, the code-usage histogram and decoded prior
    # samples as pictures.
    scalars, _ = read_run(os.path.join(out, "logs", "vqvae", "train"))
    # (No codebook_loss: 0 by design for the recipe's EMA quantiser, left out.)
    assert "epoch_codebook_loss" not in scalars
    for tag in ("loss", "reconstruction_loss", "commitment_loss",
                "perplexity", "codebook_usage", "learning_rate"):
        assert f"epoch_{tag}" in scalars, tag
    images, plugins = read_run(os.path.join(out, "logs", "vqvae", "images"))
    assert plugins["reconstructions"] == "images" and plugins["code_usage"] == "histograms"
    assert images["reconstructions"][0].shape == (4 * 33 + 1, 8 * 33 + 1, 3)
    prior_images, _ = read_run(os.path.join(out, "logs", "prior", "images"))
    assert prior_images["prior_samples"][0].shape == (2 * 33 + 1, 8 * 33 + 1, 3)
    prior_scalars, _ = read_run(os.path.join(out, "logs", "prior", "train"))
    assert "epoch_bits_per_code" in prior_scalars
    # A finished stage is loaded, not run again.
    stamp = os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns
    prior_stamp = os.stat(os.path.join(out, "prior.keras")).st_mtime_ns
    again = recipe.main(config, out_dir=out, verbose=0)
    assert os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns == stamp
    assert os.stat(os.path.join(out, "prior.keras")).st_mtime_ns == prior_stamp
    assert again["test_mse"] == metrics["test_mse"]
    del vqvae


def test_a_missing_later_stage_is_run_from_the_saved_earlier_ones(tmp_path):
    out = str(tmp_path / "run")
    config = config_lib.CONFIGS["smoke"]
    recipe.main(config, out_dir=out, verbose=0)
    stamp = os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns
    os.remove(os.path.join(out, "stages", "prior.json"))
    os.remove(os.path.join(out, "prior.keras"))
    recipe.main(config, out_dir=out, verbose=0)
    assert os.path.exists(os.path.join(out, "prior.keras"))
    assert os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns == stamp


def test_discrete_likelihood_reports_bits_per_dim(tmp_path):
    import dataclasses

    from vq_zoo.data.natural_images import natural_patches
    from vq_zoo.metrics.bits_per_dim import bits_per_dim

    out = str(tmp_path / "run")
    config = dataclasses.replace(config_lib.CONFIGS["smoke"], likelihood="categorical",
                                 prior_epochs=1)
    metrics = recipe.main(config, out_dir=out, verbose=0)
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    prior = keras.models.load_model(os.path.join(out, "prior.keras"))
    test = natural_patches("test", config.test_patches, config.image_size,
                           seed=config.seed + 1)
    expected = bits_per_dim(vqvae, prior, [test[:32], test[32:]])
    assert abs(metrics["test_bits_per_dim"] - expected) < 1e-4
    assert np.isfinite(metrics["test_bits_per_dim"]) and metrics["test_bits_per_dim"] > 0
