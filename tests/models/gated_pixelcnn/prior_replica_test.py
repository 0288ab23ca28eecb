"""One fit on 2 replicas equals one on 1 replica at the same global batch."""

import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "prior_replica_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, WORKER, "2d", "1d"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT "):])


@pytest.mark.parametrize("case", ["2d", "1d"])
def test_two_replica_steps_equal_one_replica_steps(report, case):
    r = report[case]
    assert r["num_replicas"] == 2
    assert r["min_moved"] > 1e-6  # every weight moved: equality is not trivial
    assert r["max_abs_diff_1v2"] < 1e-5
    for name, value in r["logs_one"].items():
        assert r["logs_two"][name] == pytest.approx(value, rel=1e-4), name
