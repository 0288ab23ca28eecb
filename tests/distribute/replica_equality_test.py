"""One step on 2 replicas equals one step on 1 replica at the same global
batch, and the replicas end with identical codebooks and EMA state.

Each replica sees a different half of every global batch (distributed
differently on purpose), so a layer that updated its state from local
statistics, as Sonnet's VectorQuantizerEMA does, would fail; the negative
controls below patch our all-reduce and loss scaling out and check that this
test then fails. One worker process runs every case and both controls
(each control patches the code for its own 2-replica run and compares with
the unpatched 1-replica run of its case); the default suite runs the EMA
case and its control in a worker of its own, the rest is in the slow tier.
"""

import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "replica_worker.py")
CASES = ["ema", "ema_remedies", "vq", "vq_remedies", "vqvae2"]
CONTROLS = ["ema:no_allreduce", "vq:no_loss_scale"]


def run_worker(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, WORKER, *args],
        capture_output=True, text=True, env=env, timeout=1800,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT "):])


@pytest.fixture(scope="module")
def reports():
    return run_worker(*CASES, *CONTROLS)


@pytest.fixture(scope="module")
def core_reports():
    """The default suite's share (the rest is in the slow tier): the EMA
    codebook of appendix A.1 and the control that takes its all-reduce
    out."""
    return run_worker("ema", "ema:no_allreduce")


def max_diff(report, key):
    return max(w[key] for w in report["weights"].values())


def check_replicas_identical(report):
    assert all(w["num_replicas"] == 2 for w in report["weights"].values())
    assert max_diff(report, "max_abs_diff_between_replicas") == 0.0


def check_two_equal_one(report):
    # Every weight really moved, so equality is not trivial.
    codebooks = [w for p, w in report["weights"].items() if p.endswith("codebook")]
    assert codebooks and all(w["moved"] > 1e-2 for w in codebooks)
    assert min(w["moved"] for w in report["weights"].values()) > 1e-6
    assert max_diff(report, "max_abs_diff_1v2") < 1e-5
    for name, value in report["logs_one"].items():
        assert report["logs_two"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def check_no_allreduce_diverges(report):
    codebook = next(w for p, w in report["weights"].items() if p.endswith("codebook"))
    assert codebook["max_abs_diff_between_replicas"] > 1e-3


def test_core_case_two_replicas_equal_one(core_reports):
    check_replicas_identical(core_reports["ema"])
    check_two_equal_one(core_reports["ema"])


def test_core_control_without_all_reduce_diverges(core_reports):
    check_no_allreduce_diverges(core_reports["ema:no_allreduce"])


@pytest.mark.parametrize("case", CASES)
def test_two_replicas_hold_identical_state(reports, case):
    check_replicas_identical(reports[case])


@pytest.mark.parametrize("case", CASES)
def test_two_replica_steps_equal_one_replica_steps(reports, case):
    check_two_equal_one(reports[case])


def test_control_without_all_reduce_diverges(reports):
    check_no_allreduce_diverges(reports["ema:no_allreduce"])


def test_control_without_loss_scaling_differs(reports):
    report = reports["vq:no_loss_scale"]
    assert max_diff(report, "max_abs_diff_1v2") > 1e-3
