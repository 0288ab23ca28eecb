import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "natural_images" in out and "imagenet" in out and "smoke" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "nope"], "Unknown recipe 'nope'; choose one of: imagenet, mnist, natural_images"),
    (["train", "natural_images", "--config", "big"], "choose one of: default, paper, smoke"),
    (["train", "natural_images", "--set", "epochs=3"], "valid keys: batch_size"),
    (["train", "natural_images", "--set", "batch_size=x"], "expected a value of type int"),
    (["train", "natural_images", "--strategy", "gpu"], "invalid choice: 'gpu'"),
])
def test_bad_arguments_are_refused_with_the_choices(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_train_sample_encode(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert cli.main(["train", "natural_images", "--config", "smoke", "--out-dir", run,
                     "--set", "num_samples=4"]) == 0
    out = capsys.readouterr().out
    assert f"tensorboard --logdir {os.path.join(run, 'logs')}" in out
    assert cli.main(["sample", run, "--num", "3", "--seed", "1",
                     "--out", str(tmp_path / "s.png")]) == 0
    grid = tf.io.decode_png((tmp_path / "s.png").read_bytes())
    assert tuple(grid.shape) == (34, 3 * 33 + 1, 3)
    with pytest.raises(SystemExit):
        cli.main(["sample", run, "--label", "2"])  # unconditional prior
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


def test_runs_from_a_wheel_outside_the_checkout(tmp_path):
    """Build a wheel, install it into a folder outside the checkout, and run
    `vq-zoo list` and a smoke training from another working directory."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(wheel_dir), REPO],
                   check=True, capture_output=True)
    wheel = next(wheel_dir.glob("vq_zoo-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
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
