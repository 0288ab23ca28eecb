"""`model.fit` under a 2-replica MirroredStrategy when a last batch leaves a
replica empty (a last batch no larger than one replica's share: 990
examples in batches of 64 end in 30/0). It used to stop the fit
(TensorFlow's oneDNN convolutions give a wrong shape for an empty batch:
"input depth must be evenly divisible by filter depth"). Checked against 1
replica from the same weights (3 examples in batches of 2, SGD): the first
step (1/1) equals the 1-replica step; in the last (1/0) the trainable
weights move by half the 1-replica step (each replica's mean loss weighs
1/2, the empty replica's stand-in 0), and the EMA codebook state keeps its
value after the first step (the stand-in kept out of the statistics summed
across replicas), where the 1-replica epoch moves it again."""

import json
import os
import subprocess
import sys

import numpy as np

WORKER = os.path.join(os.path.dirname(__file__), "empty_replica_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_a_step_with_an_empty_replica_applies_the_present_examples_only():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, WORKER], capture_output=True, text=True,
                          env=env, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert report["logs_mirrored"]["skipped_updates"] == 0.0
    moved = state_moved = 0
    for i, (name, kind) in enumerate(zip(report["names"], report["kinds"])):
        first = np.asarray(report["first_step"][i])
        single = np.asarray(report["single"][i])
        mirrored = np.asarray(report["mirrored"][i])
        assert np.all(np.isfinite(mirrored)), name
        if kind == "trainable":
            np.testing.assert_allclose(mirrored - first, 0.5 * (single - first), atol=2e-6,
                                       err_msg=name)
            moved += int(np.abs(single - first).max() > 1e-4)
        else:
            np.testing.assert_allclose(mirrored, first, atol=1e-6, err_msg=name)
            state_moved += int(np.abs(single - first).max() > 1e-4)
    # The last step moves weights and EMA state on 1 replica: the checks
    # above are not vacuous.
    assert moved > 0 and state_moved > 0
