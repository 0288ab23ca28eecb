import json
import math
import os

import numpy as np
import tensorflow as tf
import keras

from recipes.natural_images import config as config_lib
from recipes.natural_images import recipe


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
