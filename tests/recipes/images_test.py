"""recipes/images: a generated folder of own images through the whole
pipeline (one smoke run shared by the module), VQ-VAE-2, tfds, bad input."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from vq_zoo import cli
from vq_zoo.data.codes import code_dataset
from vq_zoo.data.image_folder import ImageFolder
from vq_zoo.recipes.images import recipe
from vq_zoo.recipes.images.config import CONFIGS

SMOKE = CONFIGS["smoke"]
SIZE = SMOKE.image_size  # 16


def make_folder(root, per_class=24, seed=0):
    """Two classes of pictures in assorted lossless formats and modes, each
    16 pixels on its shorter side (so the recipe crops, never resamples):
    reds in `cats/`, blues in `dogs/`; plus an unreadable file."""
    rng = np.random.default_rng(seed)
    for c, (name, colour) in enumerate((("cats", (220, 60, 30)), ("dogs", (30, 70, 220)))):
        os.makedirs(os.path.join(root, name, "sub"), exist_ok=True)
        for i in range(per_class):
            h, w = [(16, 16), (16, 24), (24, 16)][i % 3]
            yy, xx = np.mgrid[:h, :w]
            wave = 0.55 + 0.45 * np.sin(xx / 3.0 + yy / 5.0 + rng.uniform(0, 6))
            pixels = (np.array(colour) * wave[..., None]).astype(np.uint8)
            image = Image.fromarray(pixels)
            kind = i % 4
            folder = os.path.join(root, name, "sub" if i % 5 == 0 else "")
            if kind == 0:
                image.save(os.path.join(folder, f"{i:02d}.png"))
            elif kind == 1:
                image.convert("RGBA").save(os.path.join(folder, f"{i:02d}.webp"),
                                           lossless=True)
            elif kind == 2:
                image.save(os.path.join(folder, f"{i:02d}.bmp"))
            else:
                image.convert("P").save(os.path.join(folder, f"{i:02d}.png"))
    with open(os.path.join(root, "cats", "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    return root


def pillow_square(path):
    """The file's central 16x16 square as Pillow reads it, RGB in [0, 1]."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), np.float32) / 255.0
    h, w = pixels.shape[:2]
    top, left = (h - SIZE) // 2, (w - SIZE) // 2
    return pixels[top:top + SIZE, left:left + SIZE]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("images")
    data = make_folder(str(base / "photos"))
    out = str(base / "run")
    assert cli.main(["train", "images", "--config", "smoke", "--data-dir", data,
                     "--out-dir", out]) == 0
    return data, out


def test_whole_pipeline_on_a_folder_with_its_split_recorded(run):
    data, out = run
    for name in ("vqvae.keras", "prior.keras", "samples.png", "reconstructions.png",
                 "metrics.json", "data.json", "config.json"):
        assert os.path.exists(os.path.join(out, name)), name
    for stage in ("vqvae", "codes", "prior", "sample"):
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    assert os.path.isdir(os.path.join(out, "logs", "vqvae", "train"))
    record = json.load(open(os.path.join(out, "data.json")))
    # The record is the folder as a fresh scan sees it: every readable file,
    # its split and its class folder; the broken file skipped by name.
    fresh = ImageFolder.scan(data)
    assert record["files"] == list(fresh.files) and record["splits"] == list(fresh.splits)
    assert record["class_names"] == ["cats", "dogs"]
    assert [record["class_names"][i] for i in record["labels"]] == [
        f.split("/")[0] for f in record["files"]]
    assert record["skipped"] == {"unreadable (truncated, corrupt or not an image)": {
        "count": 1, "first": ["cats/broken.png"]}}
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert np.isfinite(metrics["test_mse"]) and metrics["code_shape"] == [4, 4]
    # samples.png: one row per class, num_samples / 2 columns of 16x16 tiles.
    grid = tf.io.decode_png(open(os.path.join(out, "samples.png"), "rb").read())
    assert tuple(grid.shape) == (2 * 17 + 1, 2 * 17 + 1, 3)


def test_codes_on_disk_are_the_models_codes_of_the_recorded_test_files(run):
    """The test codes equal the saved VQ-VAE's codes of the test files as
    Pillow reads them, and carry each file's class."""
    data, out = run
    record = json.load(open(os.path.join(out, "data.json")))
    test = [(f, lab) for f, s, lab in zip(record["files"], record["splits"],
                                          record["labels"]) if s == "test"]
    images = np.stack([pillow_square(os.path.join(data, f)) for f, _ in test])
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    batches = list(code_dataset(os.path.join(out, "codes", "test"), 64,
                                keys=("codes", "labels")))
    codes = np.concatenate([np.asarray(b["codes"]) for b in batches])
    labels = np.concatenate([np.asarray(b["labels"]) for b in batches])
    np.testing.assert_array_equal(codes, np.asarray(vqvae.encode(images)))
    np.testing.assert_array_equal(labels, [lab for _, lab in test])


def test_prior_is_class_conditional_and_samples_by_folder_name(run, tmp_path, capsys):
    _, out = run
    prior = keras.models.load_model(os.path.join(out, "prior.keras"))
    assert prior.num_classes == 2
    by_name, by_index = tmp_path / "dogs.png", tmp_path / "1.png"
    assert cli.main(["sample", out, "--label", "dogs", "--num", "3", "--seed", "2",
                     "--out", str(by_name)]) == 0
    assert cli.main(["sample", out, "--label", "1", "--num", "3", "--seed", "2",
                     "--out", str(by_index)]) == 0
    assert by_name.read_bytes() == by_index.read_bytes()
    capsys.readouterr()
    assert cli.main(["sample", out, "--label", "cows", "--out", str(by_name)]) == 2
    assert capsys.readouterr().err == (
        "vq-zoo: error: --label cows: this prior's classes are cats, dogs (or their "
        "indices 0..1)\n")


def test_resume_reuses_the_stages_and_the_recorded_split(run, tmp_path):
    """A new image in the folder does not move the run's split: the resumed
    run reads data.json back and reuses every stage; another folder is
    refused."""
    data, out = run
    stamp = os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns
    before = open(os.path.join(out, "data.json")).read()
    extra = os.path.join(data, "dogs", "zz_new.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(extra)
    try:
        metrics = recipe.main(SMOKE, out_dir=out, data_dir=data, verbose=0)
    finally:
        os.remove(extra)
    assert open(os.path.join(out, "data.json")).read() == before
    assert os.stat(os.path.join(out, "vqvae.keras")).st_mtime_ns == stamp
    assert metrics == json.load(open(os.path.join(out, "metrics.json")))
    other = make_folder(str(tmp_path / "other"), per_class=12)
    with pytest.raises(OSError, match="records the images of"):
        recipe.main(SMOKE, out_dir=out, data_dir=other, verbose=0)


def test_exported_presets_carry_the_class_names(run, tmp_path):
    _, out = run
    dest = tmp_path / "presets"
    assert cli.main(["export", out, "--vqvae-preset", "vqvae_tiny_own_16",
                     "--prior-preset", "gated_pixelcnn_tiny_own_16",
                     "--dest", str(dest)]) == 0
    for name in ("vqvae_tiny_own_16", "gated_pixelcnn_tiny_own_16"):
        meta = json.load(open(dest / name / "metadata.json"))
        assert meta["class_names"] == ["cats", "dogs"] and meta["recipe"] == "images"
    assert cli.main(["sample", str(dest / "gated_pixelcnn_tiny_own_16"), "--label",
                     "cats", "--num", "2", "--out", str(tmp_path / "s.png")]) == 0


def test_vqvae2_trains_two_levels_on_the_folder(tmp_path):
    data = make_folder(str(tmp_path / "photos"), per_class=16)
    out = str(tmp_path / "run")
    config = dataclasses.replace(SMOKE, model="vqvae2")
    metrics = recipe.main(config, out_dir=out, data_dir=data, verbose=0)
    for name in ("vqvae.keras", "prior_top.keras", "prior_bottom.keras", "samples.png",
                 "sample_codes.npz", "data.json"):
        assert os.path.exists(os.path.join(out, name)), name
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    assert list(vqvae.level_names) == ["top", "bottom"]
    assert metrics["code_shape_bottom"] == [4, 4] and metrics["code_shape_top"] == [2, 2]
    assert np.isfinite(metrics["test_mse"])


def test_a_tfds_dataset_runs_the_same_pipeline(tmp_path):
    out = str(tmp_path / "run")
    config = dataclasses.replace(SMOKE, dataset="tfds:mnist")
    with tfds.testing.mock_data(num_examples=16):
        metrics = recipe.main(config, out_dir=out, data_dir=str(tmp_path / "tfds"),
                              verbose=0)
    record = json.load(open(os.path.join(out, "data.json")))
    assert record["source"] == "tfds:mnist" and record["channels"] == 1
    assert record["class_names"] == [str(i) for i in range(10)]
    vqvae = keras.models.load_model(os.path.join(out, "vqvae.keras"))
    assert vqvae.get_build_config()["input_shape"] == [None, SIZE, SIZE, 1]
    assert keras.models.load_model(os.path.join(out, "prior.keras")).num_classes == 10
    assert np.isfinite(metrics["test_mse"])


@pytest.mark.parametrize("setup, args, message", [
    (lambda d: None, [], " holds no image files: expected a folder of images"),
    (lambda d: [Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / f"{i}.png")
                for i in range(3)], [], "expected at least one in every split"),
    (lambda d: None, ["--no-data-dir"], "vq-zoo train images needs --data-dir"),
    (lambda d: None, ["--set", "dataset=tfds:nosuchset"], "has no dataset 'nosuchset'"),
])
def test_bad_input_is_one_line_and_leaves_no_run_dir(tmp_path, capsys, setup, args,
                                                     message):
    data = tmp_path / "data"
    data.mkdir()
    setup(data)
    out = tmp_path / "run"
    argv = ["train", "images", "--config", "smoke", "--out-dir", str(out)]
    argv += [a for a in args if a != "--no-data-dir"]
    if "--no-data-dir" not in args:
        argv += ["--data-dir", str(data)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("vq-zoo: error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_vqvae2_gets_every_shared_field_including_the_quantizer():
    import dataclasses as dc

    from vq_zoo.recipes.vqvae2.config import VQVAE2Config

    config = dc.replace(SMOKE, model="vqvae2", quantizer="fsq", fsq_levels=(5, 3),
                        num_downsamples=3, top_prior_layers=3, embedding_dim=6)
    levels = recipe.vqvae2_config(config)
    assert isinstance(levels, VQVAE2Config) and levels.dataset == "image_dir"
    assert levels.bottom_downsamples == 3
    shared = {f.name for f in dc.fields(VQVAE2Config)} & {f.name for f in dc.fields(config)}
    assert {"quantizer", "fsq_levels", "top_prior_layers", "embedding_dim"} <= shared
    for name in shared - {"dataset"}:
        assert getattr(levels, name) == getattr(config, name), name
