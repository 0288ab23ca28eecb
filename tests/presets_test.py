"""Presets: save_to_preset / from_preset round trips, metadata and hashes,
URL handles, the refusals that keep a bad file from loading, list_presets,
and presets found from a wheel installed outside the checkout."""

import datetime
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import vq_zoo
from vq_zoo import GatedPixelCNN1DPrior
from vq_zoo import GatedPixelCNNPrior
from vq_zoo import VQVAE
from vq_zoo import presets

REPO = pathlib.Path(__file__).resolve().parent.parent
GOLDENS = REPO / "tests" / "goldens"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def tiny_vqvae(trained=True):
    model = VQVAE.image_model(
        num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
        embedding_dim=4, num_embeddings=16, num_downsamples=1,
    )
    model.build((None, 8, 8, 3))
    if trained:  # moves the EMA statistics away from their initial values
        model.compile(optimizer="adam")
        x = np.random.default_rng(0).random((8, 8, 8, 3), dtype=np.float32)
        model.fit(x, batch_size=4, epochs=1, verbose=0)
    return model


def copy_golden(tmp_path, name="vqvae_tiny"):
    return pathlib.Path(shutil.copytree(GOLDENS / name, tmp_path / name))


def rehash(directory):
    """Recomputes metadata.json's hashes, as a careless hand edit would."""
    meta_path = directory / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["files"] = {name: sha256(directory / name) for name in meta["files"]}
    meta_path.write_text(json.dumps(meta))


def assert_same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy(), err_msg=wa.path)


# ---------------------------------------------------------------- round trips
def test_vqvae_round_trip(tmp_path):
    model = tiny_vqvae()
    ema_count = model.quantizer.weights[-1]
    assert float(ema_count.numpy()) > 0
    model.save_to_preset(tmp_path / "p")
    loaded = VQVAE.from_preset(tmp_path / "p")
    assert type(loaded) is VQVAE and loaded is not model
    assert_same_weights(model, loaded)  # EMA statistics included
    assert {w.name for w in model.quantizer.non_trainable_weights} == {
        "codebook", "ema_cluster_size_hidden", "ema_dw_hidden", "ema_count"}
    x = np.random.default_rng(1).random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    # Weights only: the optimizer state of the trained model is left out.
    with h5py.File(tmp_path / "p" / "model.weights.h5", "r") as f:
        assert "optimizer" not in f
        count = []
        f.visititems(lambda n, o: count.append(n) if isinstance(o, h5py.Dataset) else None)
    assert len(count) == len(model.weights)


@pytest.mark.parametrize("make", [
    lambda: GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4), filters=4,
                               num_layers=2, num_classes=3),
    lambda: GatedPixelCNN1DPrior(num_embeddings=8, length=6, filters=4,
                                 dilation_rates=(1, 2)),
], ids=["2d", "1d"])
def test_prior_round_trip(tmp_path, make):
    prior = make()
    # Move the weights away from any initialisation the loader could redo.
    prior.set_weights([w + 0.01 * (i + 1) for i, w in enumerate(prior.get_weights())])
    prior.save_to_preset(tmp_path / "p")
    cls = type(prior)
    loaded = cls.from_preset(tmp_path / "p")
    assert type(loaded) is cls
    assert_same_weights(prior, loaded)
    codes = np.random.default_rng(0).integers(0, prior.num_embeddings, (2,) + prior.shape)
    inputs = codes if prior.num_classes is None else {
        "codes": codes, "condition": np.array([0, 2])}
    np.testing.assert_array_equal(loaded(inputs), prior(inputs))
    # The base class accepts either prior.
    from vq_zoo.models.gated_pixelcnn.autoregressive_prior import AutoregressivePrior
    assert type(AutoregressivePrior.from_preset(tmp_path / "p")) is cls


def test_load_weights_false_gives_the_architecture_only(tmp_path):
    model = tiny_vqvae()
    model.save_to_preset(tmp_path / "p")
    os.remove(tmp_path / "p" / "model.weights.h5")  # not read at all
    fresh = vq_zoo.load_preset(tmp_path / "p", load_weights=False)
    assert type(fresh) is VQVAE and fresh.built
    def as_json(m):
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(m)))
        config.pop("compile_config", None)
        return config

    assert as_json(fresh) == as_json(model)
    assert [w.shape for w in fresh.weights] == [w.shape for w in model.weights]
    assert not np.array_equal(fresh.quantizer.codebook.numpy(),
                              model.quantizer.codebook.numpy())
    assert float(fresh.quantizer.weights[-1].numpy()) == 0.0  # fresh EMA count


# ------------------------------------------------------------------ metadata
def test_metadata_and_hashes(tmp_path):
    model = tiny_vqvae()
    extra = {"dataset": "noise", "recipe": "natural_images", "command": "vq-zoo train",
             "config": {"batch_size": 4, "shape": (8, 8)},
             "metrics": {"reconstruction_loss": np.float32(0.5)}}
    returned = presets.save_to_preset(model, tmp_path / "p", metadata=extra)
    directory = tmp_path / "p"
    assert sorted(os.listdir(directory)) == [
        "README.md", "config.json", "metadata.json", "model.weights.h5"]
    meta = json.loads((directory / "metadata.json").read_text())
    assert meta == returned
    assert meta["files"] == {"config.json": sha256(directory / "config.json"),
                             "model.weights.h5": sha256(directory / "model.weights.h5")}
    assert meta["class_name"] == "VQVAE"
    assert meta["parameter_count"] == sum(int(np.prod(w.shape)) for w in model.weights)
    assert meta["vq_zoo_version"] == vq_zoo.__version__
    assert meta["keras_version"] == keras.__version__
    assert meta["tensorflow_version"] == tf.__version__
    assert datetime.datetime.fromisoformat(meta["date"]).tzinfo is not None
    assert meta["dataset"] == "noise" and meta["command"] == "vq-zoo train"
    assert meta["config"] == {"batch_size": 4, "shape": [8, 8]}
    assert meta["metrics"] == {"reconstruction_loss": 0.5}
    # config.json is the Keras serialisation, less the compile config.
    config = json.loads((directory / "config.json").read_text())
    expected = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    expected.pop("compile_config")
    assert config == expected
    assert "VQVAE.from_preset" in (directory / "README.md").read_text()
    assert presets.load_preset_metadata(directory) == meta


def test_saving_another_class_replaces_the_card_and_the_pictures(tmp_path):
    """A prior saved over a VQ-VAE preset: nothing of the VQ-VAE's card or
    pictures is left, and the metadata is the prior's."""
    picture = tmp_path / "s.png"
    picture.write_bytes(b"\x89PNG fake")
    tiny_vqvae(trained=False).save_to_preset(tmp_path / "p", files={"samples.png": picture})
    assert (tmp_path / "p" / "samples.png").read_bytes() == picture.read_bytes()
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    assert meta["extra_files"] == {"samples.png": sha256(picture)}
    assert "VQVAE.from_preset" in (tmp_path / "p" / "README.md").read_text()
    prior = GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4), filters=4, num_layers=2)
    prior.save_to_preset(tmp_path / "p")
    card = (tmp_path / "p" / "README.md").read_text()
    assert "GatedPixelCNNPrior.from_preset" in card and "VQVAE" not in card
    assert "samples.png" not in card
    assert sorted(os.listdir(tmp_path / "p")) == [
        "README.md", "config.json", "metadata.json", "model.weights.h5"]
    assert presets.load_preset_metadata(tmp_path / "p")["class_name"] == "GatedPixelCNNPrior"
    # A card passed in is written as it is.
    prior.save_to_preset(tmp_path / "p", model_card="# my card\n")
    assert (tmp_path / "p" / "README.md").read_text() == "# my card\n"


def test_the_card_describes_the_saved_model_not_the_metadata(tmp_path):
    """Facts in the card are those of config.json (K, D, layers, code shape,
    likelihood), even when the caller's recipe config says otherwise; the
    wording is right for 1 block and for an MSE loss."""
    model = tiny_vqvae(trained=False)
    model.save_to_preset(tmp_path / "p", {"config": {"num_embeddings": 999,
                                                     "num_residual_layers": 7}})
    card = (tmp_path / "p" / "README.md").read_text()
    config = json.loads((tmp_path / "p" / "config.json").read_text())["config"]
    quantizer = config["quantizer"]["config"]
    encoder = config["encoder"]["config"]
    assert f"K={quantizer['num_embeddings']} codes of dimension D={quantizer['embedding_dim']}" in card
    assert "999" not in card and "7 residual" not in card
    assert encoder["num_residual_layers"] == 1
    assert "1 residual block of" in card and "1 residual blocks" not in card
    assert "1 strided 4x4 convolution of" in card
    assert "8x8x3 inputs to 4x4 codes" in card  # 8 / 2**num_downsamples(1)
    assert "mean-squared-error" in card and "likelihood over 8-bit" not in card
    meta = json.loads((tmp_path / "p" / "metadata.json").read_text())
    assert f"{meta['parameter_count']:,} parameters" in card


def test_the_prior_card_says_how_it_is_conditioned(tmp_path):
    prior = GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4), filters=4,
                               num_layers=1, num_classes=3)
    prior.save_to_preset(tmp_path / "p", {"companion_preset": "vqvae_x"})
    card = (tmp_path / "p" / "README.md").read_text()
    assert "1 gated PixelCNN layer of 4 filters" in card
    assert "conditioned on a class label (0..2)" in card
    assert 'vq_zoo.VQVAE.from_preset("vqvae_x")' in card


def test_a_metadata_file_that_is_a_list(tmp_path):
    directory = copy_golden(tmp_path)
    (directory / "metadata.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=rf"{directory / 'metadata.json'} must hold "
                                         r"a JSON object \(\{\.\.\.\}\), not a JSON list"):
        VQVAE.from_preset(directory)
    with pytest.raises(ValueError, match="not a JSON list"):
        presets.load_preset_metadata(directory)


def test_an_invalid_config_value_reports_its_cause(tmp_path):
    directory = copy_golden(tmp_path)
    config = directory / "config.json"
    config.write_text(config.read_text().replace('"num_embeddings": 16', '"num_embeddings": -3'))
    rehash(directory)
    with pytest.raises(ValueError) as info:
        VQVAE.from_preset(directory)
    message = str(info.value)
    assert message.startswith(f"Could not build the model of {config}: ValueError: ")
    assert "num_embeddings" in message and "-3" in message
    assert "could not be deserialized" not in message


def test_loading_refuses_without_keras_safe_mode(tmp_path, monkeypatch):
    """Without Keras' SafeModeScope the loader cannot enforce safe mode: it
    raises instead of loading without the check."""
    import types

    name = "keras.src.saving.serialization_lib"
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    with pytest.raises(ImportError, match=r"Cannot load .*config.json safely.*SafeModeScope"):
        VQVAE.from_preset(GOLDENS / "vqvae_tiny")


def test_save_refusals(tmp_path):
    unbuilt = VQVAE.image_model(num_hiddens=8, num_residual_hiddens=4,
                                embedding_dim=4, num_embeddings=16)
    with pytest.raises(ValueError, match=r"is not built.*model\.build\(input_shape\)"):
        presets.save_to_preset(unbuilt, tmp_path / "a")
    assert not (tmp_path / "a" / "metadata.json").exists()
    with pytest.raises(ValueError, match=r"metadata keys \['files'\] are written by"):
        tiny_vqvae(trained=False).save_to_preset(tmp_path / "b", {"files": {}})
    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    with pytest.raises(ValueError, match="cannot be saved as a preset.*Python code"):
        presets.save_to_preset(lam, tmp_path / "c")


def test_resaving_replaces_a_preset(tmp_path):
    first, second = tiny_vqvae(trained=False), tiny_vqvae(trained=True)
    first.save_to_preset(tmp_path / "p")
    second.save_to_preset(tmp_path / "p")
    assert_same_weights(second, VQVAE.from_preset(tmp_path / "p"))
    assert not [f for f in os.listdir(tmp_path / "p") if f.startswith(".tmp")]


# ------------------------------------------------------------------- safety
def test_sha256_mismatch_is_refused_before_loading(tmp_path):
    directory = copy_golden(tmp_path)
    config = directory / "config.json"
    config.write_text(config.read_text().replace('"num_embeddings": 16', '"num_embeddings": 17'))
    with pytest.raises(ValueError, match=rf"{config} does not match its sha256"):
        VQVAE.from_preset(directory)


def test_truncated_weights(tmp_path):
    directory = copy_golden(tmp_path)
    weights = directory / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ValueError, match=rf"{weights} does not match its sha256"):
        VQVAE.from_preset(directory)
    rehash(directory)  # the hashes agree now; the file is still broken
    with pytest.raises(ValueError, match=rf"{weights} is not a readable HDF5 "
                                         r"weights file \(truncated or corrupt\)"):
        VQVAE.from_preset(directory)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused_even_with_consistent_hashes(tmp_path, bad):
    directory = copy_golden(tmp_path)
    weights = directory / "model.weights.h5"
    with h5py.File(weights, "r+") as f:
        codebooks = []
        f.visititems(lambda name, obj: codebooks.append(name)
                     if isinstance(obj, h5py.Dataset) and obj.ndim == 2
                     and obj.shape[0] == 16 else None)
        data = f[codebooks[0]][...]
        data[3, 0] = bad
        f[codebooks[0]][...] = data
    rehash(directory)  # a consistent sha256: only the values give it away
    with pytest.raises(ValueError, match=rf"{weights} hold NaN or Inf values \(1 of"):
        VQVAE.from_preset(directory)


def test_a_full_disk_is_refused_before_writing_and_stale_temporaries_go(tmp_path,
                                                                         monkeypatch):
    import collections
    import errno
    import shutil as shutil_module

    model = tiny_vqvae()
    folder = tmp_path / "p"
    folder.mkdir()
    stale = folder / ".tmp-abc123.weights.h5"  # left by a save that crashed
    stale.write_bytes(b"half a file")
    usage = collections.namedtuple("usage", "total used free")
    real = shutil_module.disk_usage
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage(10**9, 10**9, 10**5))
    with pytest.raises(OSError) as caught:
        presets.save_to_preset(model, folder)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(folder)
    assert "MB needed" in str(caught.value)
    assert sorted(p.name for p in folder.iterdir()) == [stale.name]  # nothing written
    monkeypatch.setattr(shutil_module, "disk_usage", real)
    presets.save_to_preset(model, folder)
    assert not stale.exists()
    assert VQVAE.from_preset(folder).count_params() == model.count_params()


def test_wrong_class(tmp_path):
    with pytest.raises(ValueError, match=r"holds a GatedPixelCNNPrior .*not a VQVAE"):
        VQVAE.from_preset(GOLDENS / "gated_pixelcnn_prior_tiny")
    with pytest.raises(ValueError, match=r"holds a VQVAE .*not a GatedPixelCNN1DPrior"):
        GatedPixelCNN1DPrior.from_preset(GOLDENS / "vqvae_tiny")
    with pytest.raises(ValueError, match=r"holds a VQVAE .*not a GatedPixelCNNPrior"):
        GatedPixelCNNPrior.from_preset(GOLDENS / "vqvae_tiny")


@pytest.mark.parametrize("old, new", [
    ('"num_embeddings": 16', '"num_embeddings": 32'),  # codebook size
    ('"num_hiddens": 8', '"num_hiddens": 12'),  # every conv
    ('"num_residual_layers": 1', '"num_residual_layers": 2'),  # more layers
])
def test_weights_that_do_not_fit_the_config(tmp_path, old, new):
    directory = copy_golden(tmp_path)
    config = directory / "config.json"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))
    rehash(directory)
    with pytest.raises(ValueError, match=rf"weights in {directory / 'model.weights.h5'} "
                                         rf"do not fit the model of {config}"):
        VQVAE.from_preset(directory)


@pytest.mark.parametrize("group, renamed, message", [
    ("encoder/conv", "encoder/conv_old", r"Layer 'conv' expected 2 variables, but received 0"),
    # Keras only warns here and keeps fresh weights: a half-loaded model.
    ("encoder/residual_stack/blocks/container", "encoder/residual_stack/blocks/old",
     r"Skipping nested container at 'encoder/residual_stack/blocks/container'"),
])
def test_weights_of_a_renamed_layer(tmp_path, group, renamed, message):
    """Same arrays, moved to another layer path (a layer renamed between the
    saving and the loading code): the shapes agree, Keras must still refuse."""
    directory = copy_golden(tmp_path)
    with h5py.File(directory / "model.weights.h5", "r+") as f:
        f.move(group, renamed)
    rehash(directory)
    with pytest.raises(ValueError, match=rf"(?s)do not fit the model of .*config.json: .*{message}"):
        VQVAE.from_preset(directory)


def test_weights_of_another_model(tmp_path):
    directory = copy_golden(tmp_path)
    shutil.copy(GOLDENS / "gated_pixelcnn_prior_tiny" / "model.weights.h5",
                directory / "model.weights.h5")
    rehash(directory)
    with pytest.raises(ValueError, match="do not fit the model of"):
        VQVAE.from_preset(directory)


@pytest.mark.parametrize("name", ["model.weights.h5", "config.json", "metadata.json"])
def test_missing_file(tmp_path, name):
    directory = copy_golden(tmp_path)
    os.remove(directory / name)
    with pytest.raises(FileNotFoundError, match=rf"Preset file {directory / name} is missing"):
        VQVAE.from_preset(directory)


def test_code_in_a_config_is_refused_even_with_unsafe_deserialization(tmp_path):
    directory = copy_golden(tmp_path)
    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    (directory / "config.json").write_text(
        json.dumps(keras.saving.serialize_keras_object(lam)))
    meta = json.loads((directory / "metadata.json").read_text())
    meta["class_name"] = "Sequential"
    (directory / "metadata.json").write_text(json.dumps(meta))
    rehash(directory)
    from keras.src.backend.common import global_state

    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(ValueError, match=r"config.json holds Python code"):
            vq_zoo.load_preset(directory)
    finally:
        global_state.set_global_attribute("safe_mode_saving", None)


# ------------------------------------------------------- names, index, URLs
@pytest.fixture
def fake_pretrained(tmp_path, monkeypatch):
    """A `pretrained/` folder with one shipped preset, used in place of the
    package's, and an empty index to fill."""
    root = tmp_path / "pretrained"
    shutil.copytree(GOLDENS / "vqvae_tiny", root / "golden_vqvae")
    (root / "index.json").write_text(json.dumps({"format_version": 1, "presets": {}}))
    monkeypatch.setattr(presets, "_pretrained_roots", lambda: [root])
    return root


def write_index(root, entries):
    (root / "index.json").write_text(json.dumps({"format_version": 1, "presets": entries}))


def test_unknown_name_lists_the_available_presets(fake_pretrained):
    write_index(fake_pretrained, {"remote_one": {"url": "file:///nowhere.tar.gz"}})
    with pytest.raises(ValueError, match=r"Unknown preset 'vqvae_nope'.*"
                                         r"Available presets: golden_vqvae, remote_one\."):
        VQVAE.from_preset("vqvae_nope")


def test_shipped_name_and_list_presets(fake_pretrained):
    write_index(fake_pretrained, {"remote_prior": {
        "url": "https://example.invalid/remote_prior.tar.gz", "sha256": "0" * 64,
        "class_name": "GatedPixelCNNPrior", "dataset": "d", "metrics": {"nll": 1.0}}})
    listed = vq_zoo.list_presets()
    assert listed == {
        "golden_vqvae": {
            "class_name": "VQVAE",
            "dataset": json.loads((fake_pretrained / "golden_vqvae" / "metadata.json")
                                  .read_text())["dataset"],
            "metrics": None, "description": "golden tiny VQVAE",
            "path": str(fake_pretrained / "golden_vqvae")},
        "remote_prior": {
            "class_name": "GatedPixelCNNPrior", "dataset": "d", "metrics": {"nll": 1.0},
            "description": None, "url": "https://example.invalid/remote_prior.tar.gz"},
    }
    model = VQVAE.from_preset("golden_vqvae")
    inputs = np.load(GOLDENS / "expected" / "inputs.npy")
    np.testing.assert_array_equal(model.encode(inputs),
                                  np.load(GOLDENS / "expected" / "vqvae_codes.npy"))


def test_the_user_folder_is_searched_first(tmp_path, monkeypatch):
    """`$VQ_ZOO_HOME/presets/<name>` is found by name and shadows a shipped
    preset of the same name; list_presets shows where each comes from."""
    monkeypatch.setenv("VQ_ZOO_HOME", str(tmp_path / "home"))
    user = tmp_path / "home" / "presets"
    shipped = vq_zoo.list_presets()
    assert "vqvae_small_mnist_28" in shipped
    shutil.copytree(GOLDENS / "vqvae_tiny", user / "vqvae_small_mnist_28")
    shutil.copytree(GOLDENS / "vqvae_tiny", user / "my_vqvae")
    listed = vq_zoo.list_presets()
    assert listed["my_vqvae"]["path"] == str(user / "my_vqvae")
    assert listed["vqvae_small_mnist_28"]["path"] == str(user / "vqvae_small_mnist_28")
    assert presets.user_presets_dir() == user
    assert presets._pretrained_roots()[0] == user
    inputs = np.load(GOLDENS / "expected" / "inputs.npy")
    for name in ("my_vqvae", "vqvae_small_mnist_28"):  # both the tiny golden
        np.testing.assert_array_equal(VQVAE.from_preset(name).encode(inputs),
                                      np.load(GOLDENS / "expected" / "vqvae_codes.npy"))


def test_the_checkout_pretrained_folder_is_searched():
    roots = [r.resolve() for r in presets._pretrained_roots()]
    assert (REPO / "pretrained").resolve() in roots
    for name, entry in vq_zoo.list_presets().items():
        assert ("path" in entry) != ("url" in entry), name


def test_url_presets(tmp_path, fake_pretrained):
    archive = tmp_path / "served" / "golden.tar.gz"
    digest = presets.make_preset_archive(GOLDENS / "vqvae_tiny", archive)
    assert digest == sha256(archive)
    url = archive.as_uri()
    cache = tmp_path / "cache"
    inputs = np.load(GOLDENS / "expected" / "inputs.npy")
    codes = np.load(GOLDENS / "expected" / "vqvae_codes.npy")

    # A raw file:// URL.
    model = VQVAE.from_preset(url, cache_dir=str(cache))
    np.testing.assert_array_equal(model.encode(inputs), codes)

    # A name declared in the index, with the archive's sha256.
    write_index(fake_pretrained, {"remote_vqvae": {"url": url, "sha256": digest}})
    model = VQVAE.from_preset("remote_vqvae", cache_dir=str(cache))
    np.testing.assert_array_equal(model.encode(inputs), codes)
    assert list((cache / "vq_zoo_presets").glob("remote_vqvae-*"))
    # Downloaded once: the cached copy serves when the origin is gone.
    archive.rename(archive.with_suffix(".moved"))
    model = VQVAE.from_preset("remote_vqvae", cache_dir=str(cache))
    np.testing.assert_array_equal(model.encode(inputs), codes)
    archive.with_suffix(".moved").rename(archive)

    # A wrong sha256 in the index is refused, and nothing is loaded.
    write_index(fake_pretrained, {"bad_vqvae": {"url": url, "sha256": "ab" * 32}})
    with pytest.raises(ValueError, match=rf"Preset archive {url} does not match its "
                                         rf"sha256 {'ab' * 32}"):
        VQVAE.from_preset("bad_vqvae", cache_dir=str(cache))

    # An archive of a preset whose weights were corrupted after saving.
    broken = copy_golden(tmp_path, "vqvae_tiny")
    data = bytearray((broken / "model.weights.h5").read_bytes())
    data[-100:] = bytes(b ^ 0xFF for b in data[-100:])
    (broken / "model.weights.h5").write_bytes(bytes(data))
    bad_archive = tmp_path / "served" / "broken.tar.gz"
    presets.make_preset_archive(broken, bad_archive)
    with pytest.raises(ValueError, match=r"model.weights.h5 does not match its sha256"):
        VQVAE.from_preset(bad_archive.as_uri(), cache_dir=str(cache))


# ------------------------------------------------------------------- wheel
def test_presets_are_found_from_a_wheel(wheel, tmp_path):
    """The session's wheel (tests/conftest.py: a copy of the checkout with
    one more preset, `wheel_test_vqvae`, in `pretrained/`, installed with
    `pip install --no-deps --target T`): that preset loads by name with
    `PYTHONPATH=T` from outside the checkout."""
    target = wheel["target"]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    code = (
        "import sys, numpy as np, vq_zoo; "
        "T = sys.argv[1]; "
        "assert vq_zoo.__file__.startswith(T), vq_zoo.__file__; "
        "entry = vq_zoo.list_presets()['wheel_test_vqvae']; "
        "assert entry['path'].startswith(T), entry; "
        "m = vq_zoo.VQVAE.from_preset('wheel_test_vqvae'); "
        "np.save('codes.npy', np.asarray(m.encode(np.load(sys.argv[2]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target), str(GOLDENS / "expected" / "inputs.npy")],
        cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_array_equal(np.load(run_dir / "codes.npy"),
                                  np.load(GOLDENS / "expected" / "vqvae_codes.npy"))
    assert (target / "vq_zoo" / "pretrained" / "index.json").is_file()


def test_float16_storage_rounds_the_big_arrays_only(tmp_path):
    model = tiny_vqvae()
    weights = model.get_weights()
    sizes = sorted({w.size for w in weights})
    cut = sizes[len(sizes) // 2]  # about half the arrays at or above it
    # One big array holds a value float16 cannot (70000 > 65504): it stays float32.
    huge = next(i for i, w in enumerate(weights)
                if w.size >= cut and w.dtype == np.float32 and w.ndim >= 2)
    weights[huge] = weights[huge].copy()
    weights[huge].flat[0] = 7e4
    model.set_weights(weights)
    metadata = presets.save_to_preset(model, tmp_path / "p", float16_min_values=cut)
    with h5py.File(tmp_path / "p" / "model.weights.h5", "r") as f:
        dtypes = {}
        f.visititems(lambda n, o: dtypes.__setitem__(n, (o.dtype, o.size))
                     if isinstance(o, h5py.Dataset) else None)
    halved = {d["array"] for d in metadata["weights_float16"]}
    assert halved == {n for n, (t, size) in dtypes.items() if t == np.float16}
    assert all(size >= cut for n, (t, size) in dtypes.items() if n in halved)
    assert all(t != np.float16 for n, (t, size) in dtypes.items() if size < cut)
    assert len(halved) == sum(w.size >= cut and w.dtype == np.float32
                              for w in weights) - 1  # the one with 7e4
    loaded = VQVAE.from_preset(tmp_path / "p")
    assert all(w.dtype == "float32" for w in loaded.weights if "float" in str(w.dtype))
    rounded = 0
    for w, v in zip(weights, loaded.get_weights()):
        if w.size >= cut and w.dtype == np.float32 and not (np.abs(w) > 65504).any():
            # float16 rounding (round-to-nearest, numpy's), read back as float32.
            np.testing.assert_array_equal(v, w.astype(np.float16).astype(np.float32))
            rounded += int((v != w).any())
        else:
            np.testing.assert_array_equal(v, w)
    assert rounded > 0
    # The file holds less than the float32 one.
    presets.save_to_preset(model, tmp_path / "q")
    assert ((tmp_path / "p" / "model.weights.h5").stat().st_size
            < (tmp_path / "q" / "model.weights.h5").stat().st_size)
    assert "weights_float16" not in presets.load_preset_metadata(tmp_path / "q")
    # The card says which arrays are rounded; the float32 preset's does not.
    values = sum(int(np.prod(d["shape"])) for d in metadata["weights_float16"])
    assert (f"{len(halved)} of its arrays ({values:,} values) are stored in float16"
            in (tmp_path / "p" / "README.md").read_text())
    assert "float16" not in (tmp_path / "q" / "README.md").read_text()
    with pytest.raises(ValueError, match="float16_min_values"):
        presets.save_to_preset(model, tmp_path / "p", float16_min_values=0)
    # Refused before anything is written: the preset there is as it was.
    assert VQVAE.from_preset(tmp_path / "p") is not None
    assert presets.load_preset_metadata(tmp_path / "p")["weights_float16"]
