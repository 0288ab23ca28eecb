"""Two worker processes on 127.0.0.1 train with MultiWorkerMirroredStrategy
(from `get_strategy("multi_worker")`) and end with identical weights and
codebooks, equal to one process training on the same global batches."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "multi_worker_worker.py")
TIMEOUT = 300


def free_ports(n):
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(strategy, out, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, WORKER, strategy, out], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi_worker")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    outs = [str(tmp / f"worker{i}.npz") for i in range(2)] + [str(tmp / "single.npz")]
    procs = []
    try:
        for i in range(2):
            procs.append(start("multi_worker", outs[i], {
                "cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(start("default", outs[2]))
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err[-4000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [load(p) for p in outs]


def finals(state):
    return {k: v for k, v in state.items() if k.startswith("final/")}


def test_two_workers_form_one_two_replica_job(runs):
    worker0, worker1, single = runs
    assert int(worker0["num_replicas"]) == int(worker1["num_replicas"]) == 2
    assert int(single["num_replicas"]) == 1
    # Same number of (global) steps everywhere: 4 global batches.
    assert int(worker0["iterations"]) == int(worker1["iterations"]) == int(single["iterations"]) == 4


def test_workers_end_with_identical_weights_and_codebooks(runs):
    worker0, worker1, _ = runs
    assert "final/vqvae/quantizer/codebook" in worker0
    assert any("ema_cluster_size" in k for k in worker0)
    assert sorted(finals(worker0)) == sorted(finals(worker1))
    for key in finals(worker0):
        np.testing.assert_array_equal(worker1[key], worker0[key], err_msg=key)


def test_workers_equal_a_single_process_at_the_same_global_batch(runs):
    worker0, _, single = runs
    for key in finals(worker0):
        initial = key.replace("final/", "initial/", 1)
        # Every weight moved, so equality is not trivial.
        assert np.max(np.abs(single[key] - single[initial])) > 1e-6, key
        np.testing.assert_allclose(worker0[key], single[key], atol=1e-5, rtol=1e-5, err_msg=key)
