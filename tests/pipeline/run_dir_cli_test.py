"""`vq-zoo train` and its run dir: another config is refused before anything
is written; two trainings into one run dir do not both run."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from vq_zoo import cli
from vq_zoo.pipeline import Pipeline
from vq_zoo.recipes.natural_images.config import CONFIGS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cli_refuses_another_config_naming_the_keys(tmp_path, capsys):
    out = str(tmp_path / "run")
    # A run dir whose recorded config is the smoke config.
    Pipeline(out, config=CONFIGS["smoke"], verbose=0).close()
    code = cli.main(["train", "natural_images", "--config", "smoke", "--out-dir", out,
                     "--set", "batch_size=16", "--set", "seed=3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "batch_size: 32 -> 16" in err and "seed: 0 -> 3" in err
    assert "--restart" in err and "num_hiddens" not in err
    # Refused before anything was written.
    assert not os.path.exists(os.path.join(out, "config.json"))
    assert sorted(os.listdir(os.path.join(out, "stages"))) == ["run.json"]
    run = json.load(open(os.path.join(out, "stages", "run.json")))
    assert run["config"] == dataclasses.asdict(CONFIGS["smoke"])


@pytest.mark.slow
def test_two_trainings_into_one_run_dir_exactly_one_runs(tmp_path):
    """Two `vq-zoo train` processes started together on one --out-dir: one
    trains, the other stops at once naming the first's pid; the run dir
    holds one complete run (one invocation, every stage, no temporary
    files), and is free again afterwards."""
    out = str(tmp_path / "run")
    argv = [sys.executable, "-m", "vq_zoo.cli", "train", "natural_images", "--config",
            "smoke", "--out-dir", out]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CI="1")
    procs = [subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=600)
            results.append((proc.returncode, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], [err[-2000:] for _, err in results]
    winner = procs[[code for code, _ in results].index(0)]
    loser_err = next(err for code, err in results if code == 2)
    assert f"is in use by another run: pid {winner.pid}" in loser_err
    record = json.load(open(os.path.join(out, "config.json")))
    assert len(record["invocations"]) == 1
    for stage in ("run", "vqvae", "codes", "prior", "sample"):
        assert os.path.exists(os.path.join(out, "stages", f"{stage}.json")), stage
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files
                 if f.startswith(".tmp") or f.endswith(".tmp")]
    assert not leftovers, leftovers
    # Free again: a rerun reuses every stage and adds an invocation.
    assert subprocess.run(argv, cwd=REPO, env=env, capture_output=True,
                          timeout=600).returncode == 0
    assert len(json.load(open(os.path.join(out, "config.json")))["invocations"]) == 2
