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
    (["train", "nope"], "Unknown recipe 'nope'; choose one of: imagenet, natural_images"),
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
    code = ("import vq_zoo, recipes, sys; "
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
