import dataclasses
import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.events import read_run
from vq_zoo.data.codes import code_dataset
from vq_zoo.data.natural_images import natural_patches
from vq_zoo.recipes.natural_images import config as config_lib
from vq_zoo.recipes.natural_images import recipe

CONFIG = config_lib.CONFIGS["smoke"]


def split(name):
    # The recipe's patches, made again here from the documented split and
    # seeds (train: seed, test: seed + 1, validation: seed + 2).
    num = {"validation": CONFIG.validation_patches, "test": CONFIG.test_patches}[name]
    offset = {"validation": 2, "test": 1}[name]
    return natural_patches(name, num, CONFIG.image_size, seed=CONFIG.seed + offset)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("natural") / "run")
    metrics = recipe.main(CONFIG, out_dir=out, verbose=0)
    return out, metrics


def test_smoke_pipeline_end_to_end_and_stage_resume(run):
    out, metrics = run
    for name in ("vqvae.keras", "prior.keras", "samples.png", "reconstructions.png",
                 "metrics.json", "sample_codes.npy"):
        assert os.path.exists(os.path.join(out, name)), name
    for stage in ("run", "vqvae", "codes", "prior", "sample"):
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    assert json.load(open(os.path.join(out, "metrics.json"))) == json.loads(json.dumps(metrics))
    # Samples are decoded code maps drawn from the prior.
    codes = np.load(os.path.join(out, "sample_codes.npy"))
    assert codes.shape == (CONFIG.num_samples, 8, 8)
    assert codes.min() >= 0 and codes.max() < CONFIG.num_embeddings
    grid = tf.io.decode_png(open(os.path.join(out, "samples.png"), "rb").read())
    assert tuple(grid.shape) == (33 + 1, 8 * 33 + 1, 3)
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
    again = recipe.main(CONFIG, out_dir=out, verbose=0)
    assert os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns == stamp
    assert os.stat(os.path.join(out, "prior.keras")).st_mtime_ns == prior_stamp
    assert again["test_mse"] == metrics["test_mse"]


def test_report_matches_the_saved_model_on_the_test_photos(run):
    """The report's MSE and PSNR equal a NumPy computation on the saved
    model's own reconstructions of the test patches, and reconstructions.png
    shows those reconstructions."""
    out, metrics = run
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    test = split("test")
    recon = np.asarray(vqvae.predict(test, batch_size=64, verbose=0), np.float64)
    mse = np.mean((recon - test.astype(np.float64)) ** 2)
    np.testing.assert_allclose(metrics["test_mse"], mse, rtol=1e-5)
    np.testing.assert_allclose(metrics["test_psnr_db"], -10 * np.log10(mse), rtol=1e-5)
    # The colour wheel's error per hue bin: patch i is all of hue i * 30
    # degrees, so bin i's MSE is patch i's MSE.
    from vq_zoo.metrics.colour import colour_wheel

    wheel = colour_wheel(size=CONFIG.image_size)
    per_patch = np.mean((np.asarray(vqvae.predict(wheel, verbose=0), np.float64)
                         - wheel) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(metrics["colour_wheel_mse_by_hue"], per_patch, rtol=1e-4)
    assert metrics["colour_wheel_worst_to_median"] == pytest.approx(
        per_patch.max() / np.median(per_patch), rel=1e-4)
    assert len(metrics["test_mse_by_hue"]) == 12
    # reconstructions.png: 8 test patches, their 8 reconstructions below,
    # 32x32 tiles with a 1-pixel border; at most 1/255 apart after rounding.
    grid = tf.io.decode_png(open(os.path.join(out, "reconstructions.png"), "rb").read())
    grid = np.asarray(grid, np.float64) / 255
    for row, images in ((0, test[:8]), (1, recon[:8])):
        for col in range(8):
            y, x = 1 + 33 * row, 1 + 33 * col
            tile = grid[y:y + 32, x:x + 32]
            assert np.max(np.abs(tile - np.clip(images[col], 0, 1))) <= 1 / 255 + 1e-6


def test_codes_on_disk_are_the_vqvae_codes_of_the_test_patches(run):
    out, _ = run
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    test = split("test")
    on_disk = np.concatenate([np.asarray(b) for b in
                              code_dataset(os.path.join(out, "codes", "test"), 16)])
    np.testing.assert_array_equal(on_disk, np.asarray(vqvae.encode(test)))


def test_validation_is_the_validation_photos_not_the_test_photos(run):
    """The `val_loss` monitored in training is the final VQ-VAE's loss on
    the validation patches (photos `chelsea`, `rocket`), not on the test
    patches (`flower`, `coffee`)."""
    out, _ = run
    logs = json.load(open(os.path.join(out, "stages", "vqvae.json")))["final_logs"]
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    valid = vqvae.evaluate(split("validation"), batch_size=256, verbose=0,
                           return_dict=True)
    test = vqvae.evaluate(split("test"), batch_size=256, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["val_loss"], valid["loss"], rtol=1e-4)
    assert abs(test["loss"] - valid["loss"]) > 1e-3 * abs(valid["loss"])


def test_a_rerun_of_the_same_config_gives_the_same_metrics(run, tmp_path):
    """Seeds and TensorFlow op determinism: a second run of the smoke config
    in a fresh run dir writes the same metrics.json, to the last bit."""
    out, _ = run
    again = str(tmp_path / "again")
    recipe.main(CONFIG, out_dir=again, verbose=0)
    first = json.load(open(os.path.join(out, "metrics.json")))
    second = json.load(open(os.path.join(again, "metrics.json")))
    assert first == second
    np.testing.assert_array_equal(np.load(os.path.join(out, "sample_codes.npy")),
                                  np.load(os.path.join(again, "sample_codes.npy")))


def test_a_missing_later_stage_is_run_from_the_saved_earlier_ones(run, tmp_path):
    out = str(tmp_path / "copy")
    shutil.copytree(run[0], out)
    stamp = os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns
    os.remove(os.path.join(out, "stages", "prior.json"))
    os.remove(os.path.join(out, "prior.keras"))
    recipe.main(CONFIG, out_dir=out, verbose=0)
    assert os.path.exists(os.path.join(out, "prior.keras"))
    assert os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns == stamp
    # The new prior's record names the codes it was trained on.
    prior = json.load(open(os.path.join(out, "stages", "prior.json")))
    codes = json.load(open(os.path.join(out, "stages", "codes.json")))
    assert prior["inputs"] == {"codes": codes["digest"]}


def test_discrete_likelihood_reports_bits_per_dim(tmp_path):
    from vq_zoo.metrics.bits_per_dim import bits_per_dim

    out = str(tmp_path / "run")
    config = dataclasses.replace(CONFIG, likelihood="categorical", prior_epochs=1)
    metrics = recipe.main(config, out_dir=out, verbose=0)
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    prior = keras.models.load_model(os.path.join(out, "prior.keras"))
    test = split("test")
    expected = bits_per_dim(vqvae, prior, [test[:32], test[32:]])
    assert abs(metrics["test_bits_per_dim"] - expected) < 1e-4
    assert np.isfinite(metrics["test_bits_per_dim"]) and metrics["test_bits_per_dim"] > 0


def test_mixed_bfloat16_trains_in_bfloat16_and_reports_the_saved_model(run, tmp_path):
    """`precision=mixed_bfloat16`: both models are built, trained and saved
    under that policy (bfloat16 layers, float32 variables and codebook), the
    report is the saved model's own on the test photos, the float32 policy
    is back afterwards, and the run dir is refused to a float32 config."""
    from vq_zoo.pipeline import RunDirError

    out = str(tmp_path / "bf16")
    config = dataclasses.replace(CONFIG, precision="mixed_bfloat16", prior_epochs=1)
    metrics = recipe.main(config, out_dir=out, verbose=0)
    assert keras.mixed_precision.global_policy().name == "float32"
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    prior = keras.models.load_model(os.path.join(out, "prior.keras"))
    for model in (vqvae, prior):
        assert model.dtype_policy.name == "mixed_bfloat16"
        assert {v.dtype for v in model.weights} == {"float32"}
    test = split("test")
    assert vqvae.encoder(test[:4]).dtype == tf.bfloat16
    recon = np.asarray(vqvae.predict(test, batch_size=64, verbose=0), np.float64)
    mse = np.mean((recon - test.astype(np.float64)) ** 2)
    np.testing.assert_allclose(metrics["test_mse"], mse, rtol=1e-5)
    # The same config and seed as the module's float32 run: bfloat16 keeps
    # 8 bits of mantissa, so the numbers differ, but only a little after the
    # smoke config's few steps from the same initial weights.
    assert metrics["test_mse"] != run[1]["test_mse"]
    np.testing.assert_allclose(metrics["test_mse"], run[1]["test_mse"], rtol=0.05)
    with pytest.raises(RunDirError, match="precision: 'mixed_bfloat16' -> 'float32'"):
        recipe.main(dataclasses.replace(config, precision="float32"), out_dir=out, verbose=0)
