"""The new quantizers train alike on 1 and 2 replicas (2 logical CPUs) at the
same global batch, and the replicas end with identical state: RVQ's EMA
stages with k-means, dead-code restarts and quantizer dropout; RVQ of VQ
stages; LFQ (its codebook entropy over the global batch); FSQ; EMA with the
rotation trick, cosine similarity and a projected codebook. The negative
control takes LFQ's all-reduce out and checks that the runs then differ.
The worker is tests/distribute/replica_worker.py, which serves the VQ / EMA
replica tests too; one process runs every case and the control."""

import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "distribute", "replica_worker.py")
CASES = ["rvq", "rvq_vq", "lfq", "fsq", "ema_options"]
CONTROLS = ["lfq:no_allreduce"]


def run_worker(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, WORKER, *args], capture_output=True,
                          text=True, env=env, timeout=1800)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT "):])


@pytest.fixture(scope="module")
def reports():
    return run_worker(*CASES, *CONTROLS)


def max_diff(report, key):
    return max(w[key] for w in report["weights"].values())


@pytest.mark.parametrize("case", CASES)
def test_two_replicas_hold_identical_state(reports, case):
    report = reports[case]
    assert all(w["num_replicas"] == 2 for w in report["weights"].values())
    assert max_diff(report, "max_abs_diff_between_replicas") == 0.0


@pytest.mark.parametrize("case", CASES)
def test_two_replica_steps_equal_one_replica_steps(reports, case):
    report = reports[case]
    # Every weight moved, so equality is not trivial.
    assert min(w["moved"] for w in report["weights"].values()) > 1e-6
    codebooks = [w for p, w in report["weights"].items() if p.endswith("codebook")]
    assert all(w["moved"] > 1e-2 for w in codebooks)
    assert max_diff(report, "max_abs_diff_1v2") < 1e-5
    for name, value in report["logs_one"].items():
        assert report["logs_two"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def test_control_lfq_without_all_reduce_differs(reports):
    report = reports["lfq:no_allreduce"]
    assert max_diff(report, "max_abs_diff_1v2") > 1e-4
