"""vq-zoo export --format saved_model and vq-zoo encode FOLDER: the
SavedModels load in a process where vq_zoo cannot be imported and agree
with the Keras model; the folder's .npz holds the model's codes."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from vq_zoo import cli
from vq_zoo.recipes import common
from vq_zoo.recipes.images.config import CONFIGS

# Runs with vq_zoo unimportable: a meta-path finder refuses it and the
# checkout is taken off sys.path; only TensorFlow loads the SavedModels.
LOADER = textwrap.dedent("""
    import sys

    class NoVQZoo:
        def find_spec(self, name, path=None, target=None):
            if name == "vq_zoo" or name.startswith("vq_zoo."):
                raise ImportError("vq_zoo is blocked in this process")
            return None

    sys.meta_path.insert(0, NoVQZoo())
    sys.path = [p for p in sys.path if p not in ("", {repo!r})]
    import numpy as np
    import tensorflow as tf

    dest, inputs, out = sys.argv[1:4]
    images = np.load(inputs)["images"]
    encoder = tf.saved_model.load(dest + "/encoder")
    decoder = tf.saved_model.load(dest + "/decoder")
    codes = {{k: v.numpy() for k, v in encoder.signatures["encode"](
        images=tf.constant(images)).items()}}
    given = {{k: tf.constant(v) for k, v in np.load(inputs).items() if k != "images"}}
    decoded = decoder.signatures["decode"](**given)["images"].numpy()
    served = encoder.signatures["serving_default"](images=tf.constant(images))
    try:
        import vq_zoo  # noqa: F401
        blocked = False
    except ImportError:
        blocked = True
    np.savez(out, decoded=decoded, blocked=blocked,
             **{{"codes_" + k: v for k, v in codes.items()}},
             **{{"served_" + k: v.numpy() for k, v in served.items()}})
    print("vq_zoo modules:", [m for m in sys.modules if m.startswith("vq_zoo")])
""")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _trained(model, size=16, steps=3, seed=0):
    images = np.random.default_rng(seed).random((8 * steps, size, size, 3), np.float32)
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    return model


def _vqvae():
    return _trained(common.build_vqvae(CONFIGS["smoke"], 0.08, (16, 16, 3)))


def _vqvae2():
    import keras

    from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

    model = VQVAE2.image_model(num_levels=2, num_hiddens=16, num_residual_layers=1,
                               num_residual_hiddens=8, embedding_dim=8,
                               num_embeddings=16, channels=3, data_variance=0.08)
    model.build((None, 16, 16, 3))
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    return _trained(model)


def _run_dir(tmp_path, model, class_names=None):
    run = tmp_path / "run"
    run.mkdir()
    model.save(str(run / "vqvae.keras"))
    if class_names:
        (run / "data.json").write_text(json.dumps({"class_names": class_names}))
    return run


@pytest.mark.parametrize("make", [_vqvae, _vqvae2], ids=["vqvae", "vqvae2"])
def test_saved_models_load_without_vq_zoo_and_match_keras(tmp_path, make, capsys):
    model = make()
    run = _run_dir(tmp_path, model, class_names=["a", "b"])
    dest = tmp_path / "served"
    assert cli.main(["export", str(run), "--format", "saved_model",
                     "--dest", str(dest)]) == 0
    assert "signature encode" in capsys.readouterr().out
    description = json.load(open(dest / "export.json"))
    assert description["class_names"] == ["a", "b"]
    levels = description["levels"]
    images = np.random.default_rng(1).random((6, 16, 16, 3), np.float32)
    keras_codes = {k: np.asarray(v) for k, v in model.encode_levels(images).items()}
    # Other codes than the images' own for the decoder: drawn at random.
    rng = np.random.default_rng(2)
    given = {k: rng.integers(0, description["num_embeddings"][k], v.shape).astype(np.int32)
             for k, v in keras_codes.items()}
    keras_images = np.asarray(model.decode(given if len(levels) > 1 else given["codes"]))
    np.savez(tmp_path / "inputs.npz", images=images, **given)
    script = tmp_path / "load.py"
    script.write_text(LOADER.format(repo=REPO))
    proc = subprocess.run(
        [sys.executable, str(script), str(dest), str(tmp_path / "inputs.npz"),
         str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=300,
        cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=""))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vq_zoo modules: []" in proc.stdout
    served = np.load(tmp_path / "out.npz")
    assert bool(served["blocked"])
    for k in levels:
        same = np.mean(served[f"codes_{k}"] == keras_codes[k])
        assert same >= 0.999, (k, same)
        np.testing.assert_array_equal(served[f"served_{k}"], served[f"codes_{k}"])
    np.testing.assert_allclose(served["decoded"], keras_images, atol=1e-5)


def test_export_refuses_an_existing_folder_and_a_non_image_model(tmp_path, capsys):
    run = _run_dir(tmp_path, _vqvae())
    dest = tmp_path / "served"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    assert cli.main(["export", str(run), "--format", "saved_model",
                     "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "already exists and is not empty" in err and err.count("\n") == 1
    assert (dest / "keep.txt").read_text() == "mine"
    with pytest.raises(SystemExit):
        cli.main(["export", str(run), "--format", "saved_model"])
    assert "--format saved_model needs --dest DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["export", str(run)])
    assert "--format preset needs --vqvae-preset and --prior-preset" in \
        capsys.readouterr().err


def test_a_family_without_a_saved_model_export_is_refused_in_one_line(tmp_path, capsys):
    """The run's autoencoder is loaded as its family's (a DeepMind Lab
    stage 2 here): the family says it has no SavedModel export."""
    from vq_zoo.models.dmlab import DMLabVQVAE

    model = DMLabVQVAE.code_map_model(
        num_embeddings=16, shape=(4, 4), embedding_dim=4, latent_num_embeddings=8,
        filters=8, num_downsamples=0, hidden_units=16, decoder_filters=8,
        decoder_layers=2)
    model(np.zeros((1, 4, 4), np.int32))
    run = _run_dir(tmp_path, model)
    assert cli.main(["export", str(run), "--format", "saved_model",
                     "--dest", str(tmp_path / "served")]) == 1
    assert capsys.readouterr().err == (
        f"vq-zoo: error: {run} holds a dmlab model: the DeepMind Lab stage 2 has no "
        "SavedModel export (its decoder samples the map); export stage 1 from its run "
        "dir\n")
    assert not (tmp_path / "served").exists()
    with pytest.raises(SystemExit):
        cli.main(["export", str(run), "--format", "saved_model", "--dest",
                  str(tmp_path / "served"), "--notes", "n.md"])
    assert "--notes is for --format preset" in capsys.readouterr().err


@pytest.mark.parametrize("make", [_vqvae, _vqvae2], ids=["vqvae", "vqvae2"])
def test_encode_a_folder_writes_the_models_codes_and_relative_paths(tmp_path, capsys, make):
    model = make()
    run = _run_dir(tmp_path, model)
    folder = tmp_path / "pictures"
    rng = np.random.default_rng(3)
    names = []
    for i in range(7):
        sub = folder / ("nested" if i % 2 else "") / ("deeper" if i == 5 else "")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"p{i}.png"
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
        names.append(os.path.relpath(path, folder))
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "codes"
    assert cli.main(["encode", str(run), str(folder), "--out", str(out),
                     "--batch-size", "3"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 unreadable" in printed and "bad.jpg" in printed
    saved = np.load(str(out) + ".npz")
    levels = list(getattr(model, "level_names", None) or ["codes"])
    assert sorted(saved.files) == sorted(levels + ["paths"])
    assert list(saved["paths"]) == sorted(names)
    pixels = np.stack([np.asarray(Image.open(folder / p), np.float32) / 255.0
                       for p in saved["paths"]])
    # Each level's codes: the model's own encoding of the images.
    for level, codes in model.encode_levels(pixels).items():
        np.testing.assert_array_equal(saved[level], np.asarray(codes))
