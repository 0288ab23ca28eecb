"""Configs that pass each field's own check but cannot work are refused
before the first step, in one line, with no run dir left behind (issue 23.7).

Before the fix each of these trained (some for minutes: `top_prior_num_heads=0`
failed after 196 s, `crop_length=100` after 197 s) and then ended in a
traceback, leaving a run dir.
"""

import re

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

    for name in ("vqvae2", "vctk"):
        module, configs = get_recipe(name)
        for config_name, config in configs.items():
            if not config_name.startswith("paper"):
                module.check_config(config)
