"""Fault injection on 2 replicas: a NaN in one replica's shard skips the
update on both (the decision is all-reduced), the state stays bit for bit on
every replica, and the next step equals that of a twin that never saw the bad
batch (the NaN in replica 0's shard, then one in replica 1's, on one pair
of layer and twin). One subprocess (2 logical CPU devices) runs every
case."""

import json
import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "replica_fault_worker.py")
CASES = [f"{case}:nan_on_replica_{r}"
         for case in ("ema", "ema_remedies", "vq_remedies") for r in (0, 1)]


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, WORKER], capture_output=True, text=True,
                          env=env, timeout=1800)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT "):])


@pytest.mark.parametrize("case", CASES)
def test_nan_on_one_replica_skips_on_both_and_leaves_state(report, case):
    r = report[case]
    assert r["num_replicas"] == 2
    assert r["skipped_per_replica"] == [1.0, 1.0]
    assert r["unchanged_on_every_replica"] and r["finite"]


@pytest.mark.parametrize("case", CASES)
def test_next_step_is_as_if_the_bad_batch_never_came(report, case):
    r = report[case]
    assert r["next_step_skipped"] == [0.0, 0.0]
    assert r["replicas_agree_after_next_step"]
    assert r["next_step_equals_twin"]
    # The state really moved on that step: the equalities are not trivial.
    assert set(r["next_step_moved"]) - {"seed_generator_state"}


def test_empty_global_batch_is_a_no_op(report):
    r = report["empty"]
    assert r["skipped_per_replica"] == [0.0, 0.0]
    assert r["unchanged_on_every_replica"] and r["finite"]


def test_a_replica_without_rows_still_trains_alike(report):
    r = report["partial"]
    assert r["skipped_per_replica"] == [0.0, 0.0]
    assert r["replicas_agree"] and r["finite"] and r["codebook_moved"]


def test_control_without_the_all_reduced_decision_diverges(report):
    # Proves the tests above can fail: deciding per replica (and without the
    # finiteness check of the new values) splits the replicas.
    r = report["control"]
    assert r["skipped_per_replica"] == [1.0, 0.0]
    assert not r["replicas_agree"] and not r["finite"]


def test_vqvae_stopped_by_nan_guard_equals_a_run_without_the_bad_batch(report):
    # Model level, through the shared training step: the quantizer saw finite
    # encoder outputs of the NaN batch and updated in `call`; the skipped step
    # puts that back, on both replicas.
    r = report["vqvae"]
    assert "metric `loss` is nan at batch 3 of epoch 1" in r["message"]
    assert "That step was not applied" in r["message"]
    assert r["equal_to_reference"] and r["replicas_agree"] and r["finite"]
    assert r["codebook_moved"]
