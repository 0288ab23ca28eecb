"""A whole recipe under `--strategy mirrored` (2 logical CPU devices): the
speech smoke run, whose prior's validation codes (84, in batches of 64)
reach the 2 replicas as 32/32 and 20/0. The empty replica batch used to
stop the run (TensorFlow's oneDNN convolutions give a wrong shape for an
empty batch, and a mean over it is NaN); `Task.test_step` now gives that
replica a stand-in example of weight 0."""

import json
import math
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "mirrored_recipe_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.mark.slow
def test_the_speech_smoke_recipe_trains_and_validates_on_two_replicas(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, WORKER, str(out)], capture_output=True,
                          text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out / "stages" / "prior.json") as f:
        record = json.load(f)
    # The prior validated every epoch and its validation loss is a number.
    val = record["final_logs"]["val_loss"]
    assert math.isfinite(val) and val > 0
    with open(out / "metrics.json") as f:
        assert math.isfinite(json.load(f)["test_prior_bits_per_code"])
