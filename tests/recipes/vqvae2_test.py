import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.events import read_run
from vq_zoo.data.codes import code_dataset
from vq_zoo.data.photos_64 import photo_crops
from vq_zoo.recipes.vqvae2 import config as config_lib
from vq_zoo.recipes.vqvae2 import recipe

CONFIG = config_lib.CONFIGS["smoke"]
STAGES = ("vqvae", "codes", "prior_top", "prior_bottom", "sample", "report")


def _test_crops(config=CONFIG, include_opencv=False):
    # The recipe's test crops, made again from the documented split and seed
    # (train: seed, test: seed + 1, validation: seed + 2).
    return photo_crops("test", config.test_examples, config.image_size,
                       seed=config.seed + 1, include_opencv=include_opencv)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    # Through the command line, as a user runs it (config.json for export).
    from vq_zoo import cli

    out = str(tmp_path_factory.mktemp("vqvae2") / "run")
    assert cli.main(["train", "vqvae2", "--config", "smoke", "--out-dir", out]) == 0
    return out, json.load(open(os.path.join(out, "metrics.json")))


def _nll_bits(logits, codes):
    """Mean negative log2-likelihood of `codes` under `logits`, in NumPy."""
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, codes[..., None].astype(np.int64), -1)
    return float(-picked.mean() / np.log(2))


def test_smoke_pipeline_end_to_end(run):
    out, metrics = run
    for name in ("vqvae.keras", "prior_top.keras", "prior_bottom.keras", "samples.png",
                 "reconstructions.png", "metrics.json", "sample_codes.npz"):
        assert os.path.exists(os.path.join(out, name)), name
    for stage in STAGES:
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    assert json.load(open(os.path.join(out, "metrics.json"))) == json.loads(json.dumps(metrics))
    # 32x32 crops: bottom codes 8x8 (stride 4), top 4x4.
    assert metrics["code_shape_top"] == [4, 4] and metrics["code_shape_bottom"] == [8, 8]
    # One shard set per split with both levels, made by the saved model.
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    on_disk = list(code_dataset(os.path.join(out, "codes", "test"), 64,
                                keys=("top", "bottom")))[0]
    codes = vqvae.encode_levels(_test_crops())
    for level in ("top", "bottom"):
        np.testing.assert_array_equal(np.asarray(on_disk[level]), np.asarray(codes[level]))
    # Samples: top codes, then bottom codes, in range, decoded into the grid.
    drawn = np.load(os.path.join(out, "sample_codes.npz"))
    assert drawn["top"].shape == (CONFIG.num_samples, 4, 4)
    assert drawn["bottom"].shape == (CONFIG.num_samples, 8, 8)
    for level in ("top", "bottom"):
        assert drawn[level].min() >= 0 and drawn[level].max() < CONFIG.num_embeddings
    grid = tf.io.decode_png(open(os.path.join(out, "samples.png"), "rb").read())
    assert tuple(grid.shape) == (33 + 1, 8 * 33 + 1, 3)
    decoded = np.asarray(vqvae.decode({"top": drawn["top"], "bottom": drawn["bottom"]}))
    tile = np.asarray(grid, np.float64)[1:33, 1:33] / 255
    assert np.max(np.abs(tile - np.clip(decoded[0], 0, 1))) <= 1 / 255 + 1e-6


def test_tensorboard_shows_levels_and_decoded_samples(run):
    out, _ = run
    scalars, _ = read_run(os.path.join(out, "logs", "vqvae", "train"))
    for tag in ("loss", "reconstruction_loss", "commitment_loss", "perplexity_top",
                "perplexity_bottom", "codebook_usage_top", "codebook_usage_bottom"):
        assert f"epoch_{tag}" in scalars, tag
    images, plugins = read_run(os.path.join(out, "logs", "vqvae", "images"))
    # 16 validation crops: 2 groups of 3 rows (original | top only | all).
    assert plugins["reconstructions"] == "images"
    assert images["reconstructions"][0].shape == (6 * 33 + 1, 8 * 33 + 1, 3)
    assert plugins["code_usage_top"] == "histograms"
    assert plugins["code_usage_bottom"] == "histograms"
    for level in ("top", "bottom"):
        prior_images, _ = read_run(os.path.join(out, "logs", f"prior_{level}", "images"))
        assert prior_images["prior_samples"][0].shape == (2 * 33 + 1, 8 * 33 + 1, 3)
        prior_scalars, _ = read_run(os.path.join(out, "logs", f"prior_{level}", "train"))
        assert "epoch_bits_per_code" in prior_scalars


def test_metrics_match_numpy_on_the_saved_models(run):
    """metrics.json against NumPy computations on the saved models' own
    outputs for the test crops: MSE / PSNR from the top level only and from
    all levels, per-level perplexity and usage, and each prior's bits per
    code from its logits."""
    out, metrics = run
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    test = _test_crops().astype(np.float64)
    codes = {k: np.asarray(v) for k, v in vqvae.encode_levels(test.astype("float32")).items()}
    full = np.asarray(vqvae.decode(codes), np.float64)
    top_only = np.asarray(vqvae.decode({"top": codes["top"]}), np.float64)
    mse, mse_top = np.mean((full - test) ** 2), np.mean((top_only - test) ** 2)
    np.testing.assert_allclose(metrics["test_mse"], mse, rtol=1e-5)
    np.testing.assert_allclose(metrics["test_mse_top_only"], mse_top, rtol=1e-5)
    np.testing.assert_allclose(metrics["test_psnr_db"], -10 * np.log10(mse), rtol=1e-5)
    np.testing.assert_allclose(metrics["test_psnr_db_top_only"], -10 * np.log10(mse_top),
                               rtol=1e-5)
    assert metrics["test_mse_bundled_photos"] == pytest.approx(mse, rel=1e-5)
    assert metrics["test_images"] == len(test)
    for level in ("top", "bottom"):
        counts = np.bincount(codes[level].ravel(), minlength=CONFIG.num_embeddings)
        p = counts[counts > 0] / counts.sum()
        np.testing.assert_allclose(metrics[f"test_perplexity_{level}"],
                                   np.exp(-(p * np.log(p)).sum()), rtol=1e-5)
        assert metrics[f"test_codebook_usage_{level}"] == (counts > 0).mean()
    top = keras.models.load_model(os.path.join(out, "prior_top.keras"))
    bottom = keras.models.load_model(os.path.join(out, "prior_bottom.keras"))
    np.testing.assert_allclose(metrics["test_prior_bits_per_code_top"],
                               _nll_bits(top(codes["top"]), codes["top"]), rtol=1e-4)
    logits = bottom({"codes": codes["bottom"], "spatial_condition": codes["top"]})
    np.testing.assert_allclose(metrics["test_prior_bits_per_code_bottom"],
                               _nll_bits(logits, codes["bottom"]), rtol=1e-4)
    # reconstructions.png: rows of 8 originals | top only | all levels.
    grid = np.asarray(tf.io.decode_png(
        open(os.path.join(out, "reconstructions.png"), "rb").read()), np.float64) / 255
    assert grid.shape == (6 * 33 + 1, 8 * 33 + 1, 3)
    for row, images in ((0, test), (1, top_only), (2, full), (3, test[8:]),
                        (5, full[8:])):
        for col in range(8):
            y, x = 1 + 33 * row, 1 + 33 * col
            tile = grid[y:y + 32, x:x + 32]
            assert np.max(np.abs(tile - np.clip(images[col], 0, 1))) <= 1 / 255 + 1e-6


def test_each_stage_resumes_alone(run, tmp_path):
    """With the last stage's marker gone, a rerun runs that stage only (the
    report); every earlier stage is loaded, not run again."""
    out = str(tmp_path / "copy")
    shutil.copytree(run[0], out)

    def stamps():
        files = ["vqvae.keras", "prior_top.keras", "prior_bottom.keras", "samples.png",
                 "metrics.json", "codes/test/manifest.json"]
        files += [f"stages/{s}.json" for s in STAGES]
        return {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in files}

    before = stamps()
    os.remove(os.path.join(out, "stages", "report.json"))
    metrics = recipe.main(CONFIG, out_dir=out, verbose=0)
    after = stamps()
    changed = {f for f in before if before[f] != after[f]}
    assert changed == {"stages/report.json", "metrics.json"}
    assert metrics == run[1]


def test_export_writes_the_three_presets_with_their_cards(run, tmp_path, capsys):
    from vq_zoo import cli
    from vq_zoo import presets

    out, metrics = run
    dest = tmp_path / "presets"
    names = ("vqvae2_smoke_natural_32", "gated_pixelcnn_attention_smoke_natural_32_top",
             "gated_pixelcnn_smoke_natural_32_bottom")
    # Without the bottom prior's name: what is missing, not "prior.keras not found".
    assert cli.main(["export", out, "--vqvae-preset", names[0], "--prior-preset", names[1],
                     "--dest", str(dest)]) == 2
    assert capsys.readouterr().err == (
        f"vq-zoo: error: {out} is a VQ-VAE-2 run (priors prior_bottom.keras, "
        "prior_top.keras): pass --bottom-prior-preset NAME too\n")
    assert not dest.exists()
    assert cli.main(["export", out, "--vqvae-preset", names[0], "--prior-preset", names[1],
                     "--bottom-prior-preset", names[2], "--dest", str(dest)]) == 0
    cards = {n: (dest / n / "README.md").read_text() for n in names}
    assert "top 4x4 (K=32), bottom 8x8 (K=32), D=8" in cards[names[0]]
    assert "conditioned on a 4x4 map of 32 codes (the level above)" in cards[names[2]]
    assert "causal self-attention (2 heads) after every 2 layers" in cards[names[1]]
    for name, card in cards.items():
        assert "bottom_prior.sample(16, condition=top, seed=1)" in card
        assert (f"| reconstruction MSE from the top level only (`test_mse_top_only`) | "
                f"{metrics['test_mse_top_only']:.4g} |") in card
        assert presets.load_preset_metadata(str(dest / name))["metrics"] == metrics
    # The exported models are the run's, weight for weight.
    codes = keras.models.load_model(
        os.path.join(out, "vqvae.keras")).encode_levels(_test_crops()[:4])
    exported = presets.load_preset(str(dest / names[2]))
    saved = keras.models.load_model(os.path.join(out, "prior_bottom.keras"))
    inputs = {"codes": codes["bottom"], "spatial_condition": codes["top"]}
    np.testing.assert_array_equal(np.asarray(exported(inputs)), np.asarray(saved(inputs)))
    assert (dest / names[0] / "reconstructions.png").exists()


def test_missing_data_fails_fast_with_what_to_do(tmp_path):
    ffhq = config_lib.CONFIGS["paper_ffhq1024"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        recipe.make_data(ffhq, str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match="holds no PNG or JPEG"):
        recipe.make_data(ffhq, str(empty))
    with pytest.raises(FileNotFoundError, match="needs --data-dir"):
        recipe.make_data(ffhq, None)
    imagenet = config_lib.CONFIGS["paper_imagenet256"]
    with pytest.raises(FileNotFoundError, match="imagenet2012 is not prepared"):
        recipe.make_data(imagenet, str(tmp_path / "tfds"))


def test_photo_splits_are_disjoint_by_source_photo():
    from vq_zoo.data import photos_64

    splits = {s: photos_64.split_photos(s, include_opencv=False)
              for s in ("train", "validation", "test")}
    names = {s: set(p) for s, p in splits.items()}
    assert not names["train"] & names["validation"]
    assert not (names["train"] | names["validation"]) & names["test"]
    # No photo of one split is (a copy of) a photo of another.
    digests = {s: {hash(p.tobytes()) for group in ph.values() for p in group}
               for s, ph in splits.items()}
    assert not digests["train"] & digests["test"]
    assert not digests["validation"] & digests["test"]
    # The OpenCV scenes: every scene in exactly one split.
    opencv = [photos_64.opencv_split_names(s) for s in ("train", "validation", "test")]
    assert sorted(sum(opencv, [])) == sorted(photos_64.OPENCV_SCENES)


def test_opencv_photos_without_apt_fail_with_what_to_do(tmp_path, monkeypatch):
    from vq_zoo.data import photos_64

    monkeypatch.setenv("VQ_ZOO_HOME", str(tmp_path))
    monkeypatch.setattr(photos_64.shutil, "which", lambda tool: None)
    with pytest.raises(FileNotFoundError, match="apt-get download opencv-doc"):
        photos_64.photo_crops("train", 4, include_opencv=True)
    assert photos_64.opencv_cache_dir() == str(tmp_path / "opencv_photos")


def test_paper_configs_have_the_papers_sizes():
    imagenet = config_lib.CONFIGS["paper_imagenet256"]
    assert (imagenet.image_size, imagenet.num_embeddings, imagenet.embedding_dim) == (256, 512, 64)
    # bottom 256 / 4 = 64, top 32.
    assert imagenet.image_size // 2 ** imagenet.bottom_downsamples == 64
    ffhq = config_lib.CONFIGS["paper_ffhq1024"]
    assert ffhq.num_levels == 3 and ffhq.image_size // 2 ** ffhq.bottom_downsamples == 128


def test_shipped_preset_reproduces_its_card():
    """The shipped VQ-VAE-2 preset loads by name and gives the all-levels
    test MSE its metadata states on the bundled photos' test crops (no apt
    needed), and its priors load and model its code maps."""
    from vq_zoo import presets

    vqvae = presets.load_preset("vqvae2_small_natural_64")
    metadata = presets.load_preset_metadata("vqvae2_small_natural_64")
    small = config_lib.CONFIGS["small"]
    # The recorded config is the current one; a field added since (e.g.
    # `precision`) counts as its default, as a run dir's record does.
    import dataclasses

    current = json.loads(json.dumps(dataclasses.asdict(small)))
    recorded = metadata["config"]
    defaults = {f.name: f.default for f in dataclasses.fields(small)}
    assert recorded == {k: current[k] for k in recorded}
    assert all(current[k] == defaults[k] for k in current if k not in recorded)
    test = _test_crops(small).astype(np.float64)
    recon = np.concatenate([
        np.asarray(vqvae.decode(vqvae.encode_levels(test[i:i + 256].astype("float32"))))
        for i in range(0, len(test), 256)]).astype(np.float64)
    np.testing.assert_allclose(np.mean((recon - test) ** 2),
                               metadata["metrics"]["test_mse_bundled_photos"], rtol=1e-4)
    top = presets.load_preset("gated_pixelcnn_attention_small_natural_64_top")
    bottom = presets.load_preset("gated_pixelcnn_small_natural_64_bottom")
    codes = vqvae.encode_levels(test[:8].astype("float32"))
    assert tuple(top.shape) == tuple(codes["top"].shape[1:])
    assert tuple(bottom.shape) == tuple(codes["bottom"].shape[1:])
