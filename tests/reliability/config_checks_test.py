"""Configs that pass each field's own check but cannot work are refused
before the first step, in one line, with no run dir left behind (issue 23.7).

Before the fix each of these trained (some for minutes: `top_prior_num_heads=0`
failed after 196 s, `crop_length=100` after 197 s) and then ended in a
traceback, leaving a run dir.
"""

import re

import numpy as np
import pytest

from vq_zoo import cli

CASES = [
    # recipe, config, override, what the message must name
    ("vqvae2", "smoke", "image_size=33", r"image_size=33 must be a multiple of .* = 8"),
    ("vqvae2", "smoke", "num_levels=1", r"num_levels.*>= 2"),
    ("vqvae2", "smoke", "num_levels=6", r"image_size=32 must be a multiple of .* = 128"),
    ("vqvae2", "smoke", "bottom_downsamples=0", r"bottom_downsamples=0: expected a value > 0"),
    ("vqvae2", "smoke", "top_prior_num_heads=0", r"top_prior_num_heads=0: expected a value > 0"),
    ("vqvae2", "smoke", "top_prior_attention_every=0", r"attention_every=0: expected a value > 0"),
    ("vqvae2", "smoke", "seed=-5", r"seed=-5: expected a value >= 0"),
    ("vctk", "smoke", "speakers=nobody", r"unknown \['nobody'\]; known: flite_awb"),
    ("vctk", "smoke", "crop_length=0", r"crop_length=0: expected a value > 0"),
    ("vctk", "smoke", "crop_length=100", r"crop_length=100 must be a positive multiple of .* 320"),
    ("vctk", "smoke_wavenet", "crop_length=100", r"crop_length=100 must be .* 64"),
    ("vctk", "smoke", "sample_rate=0", r"sample_rate=0: expected a value > 0"),
    ("vctk", "smoke", "prior_length=0", r"prior_length=0: expected a value > 0"),
    ("vctk", "smoke", "dilation_cycle=0", r"dilation_cycle=0: expected a value > 0"),
    ("vctk", "smoke", "eval_seconds=-1", r"eval_seconds=-1(\.0)?: expected a value > 0"),
    ("dmlab", "smoke", "image_size=34", r"image_size=34 must be a multiple of .* = 4"),
    ("dmlab", "smoke", "stage2_num_latents=0", r"stage2_num_latents=0: expected a value > 0"),
    ("dmlab", "smoke", "stage2_num_embeddings=0", r"stage2_num_embeddings=0: expected .* > 0"),
    ("dmlab", "smoke", "vqvae_epochs=0", r"vqvae_epochs. may be 0 only with a .vqvae_preset"),
    ("video", "smoke", "history=5", r"history.=5 must be <= .context_frames.=3"),
    ("video", "smoke", "steps_per_episode=2", r"steps_per_episode=2: .* at least 6 steps"),
    ("video", "smoke", "image_size=18", r"image_size=18 must be a multiple of .* = 4"),
    # Before: 20 halvings of 28 pixels, then 20 doublings: a 2**20-pixel
    # square decoded, all the memory taken.
    ("mnist", "smoke", "num_downsamples=20", r"image_size=28 must be a multiple of .* = 1048576"),
    ("natural_images", "smoke", "num_downsamples=6", r"image_size=32 must be a multiple of .* = 64"),
]


@pytest.mark.parametrize("recipe,config,override,message", CASES,
                         ids=[f"{r}-{c}-{o}" for r, c, o, _ in CASES])
def test_a_config_that_cannot_work_is_refused_before_any_run_dir(
        recipe, config, override, message, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", recipe, "--config", config, "--out-dir", str(out), "--set", override]
    try:
        status = cli.main(argv)
    except SystemExit as e:  # argparse's own refusal of a --set value
        status = e.code
    err = capsys.readouterr().err
    assert status == 2
    lines = [line for line in err.splitlines() if line.startswith("vq-zoo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists(), "a refused config left a run dir behind"


def test_the_shipped_configs_pass_their_recipe_checks():
    # The check must not refuse what the recipes ship (the small and smoke
    # configs; the paper configs take a minute each to build on a CPU).
    from vq_zoo.recipes import get_recipe

    for name in ("vqvae2", "vctk", "dmlab", "video"):
        module, configs = get_recipe(name)
        for config_name, config in configs.items():
            if not config_name.startswith("paper"):
                module.check_config(config)


def _episode(path, steps=8, size=32, actions=None):
    rng = np.random.default_rng(0)
    np.savez_compressed(path, frames=rng.integers(0, 256, (steps, size, size, 3), np.uint8),
                        actions=np.zeros(steps, np.int32) if actions is None else actions)


EPISODE_CASES = [
    # what is wrong with episode 2 of 3, what the message must name
    ("truncated", r"episode_000000_000002.npz cannot be read \(BadZipFile"),
    ("34x34 frames", r"episode_000000_000002.npz has 34x34 frames, the config's image_size"),
    ("action 7", r"episode_000000_000002.npz: .actions. must be integers in \[0, 6\)"),
    ("no actions", r"episode_000000_000002.npz cannot be read .*not .frames. and .actions."),
]
EPISODE_CASES = [(recipe, *case) for recipe in ("dmlab", "video") for case in EPISODE_CASES]
# The video recipe cuts clips of 6 frames (smoke): a shorter episode cannot
# make one (the DeepMind Lab recipe reads frames: any length works).
EPISODE_CASES.append(
    ("video", "3 steps", r"episode_000000_000002.npz has 3 steps, fewer than the 6"))


@pytest.mark.parametrize("recipe,fault,message", EPISODE_CASES,
                         ids=[f"{r}-{f}" for r, f, _ in EPISODE_CASES])
def test_bad_episode_files_are_named_before_any_run_dir(recipe, fault, message, tmp_path,
                                                        capsys):
    # Before: a truncated file ended in a BadZipFile traceback naming no
    # file, actions outside the action set failed only after the VQ-VAE's
    # training, and the run dir stayed behind.
    data = tmp_path / "episodes"
    data.mkdir()
    size = 32 if recipe == "dmlab" else 16
    for i in range(2):
        _episode(data / f"episode_000000_{i:06d}.npz", size=size)
    bad = data / "episode_000000_000002.npz"
    if fault == "truncated":
        _episode(bad, size=size)
        bad.write_bytes(bad.read_bytes()[:300])
    elif fault == "34x34 frames":
        _episode(bad, size=34)
    elif fault == "action 7":
        _episode(bad, size=size, actions=np.array([0, 1, 7, 2, 0, 0, 0, 0]))
    elif fault == "no actions":
        np.savez_compressed(bad, frames=np.zeros((8, size, size, 3), np.uint8))
    else:
        _episode(bad, steps=3, size=size)
    out = tmp_path / "run"
    status = cli.main(["train", recipe, "--config", "smoke", "--out-dir", str(out),
                       "--data-dir", str(data)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("vq-zoo: error:")]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists(), "a refused data folder left a run dir behind"
