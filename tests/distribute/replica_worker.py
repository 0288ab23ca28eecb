"""Runs training steps on 1 and on 2 replicas (2 logical CPU devices) with the
same global batch and the same initial weights, and prints a JSON report.
Serves every model-level replica test: the VQ / EMA layers and VQ-VAE-2
(tests/distribute/replica_equality_test.py) and the newer quantizers
(tests/layers/quantizer_replica_test.py).

Run in a fresh process: the logical devices must be configured before
TensorFlow initialises. Usage: python replica_worker.py CASE[:CONTROL] ...

A negative control (`CASE:CONTROL`) patches the code under test for its own
2-replica run only and puts it back afterwards, so one process serves the
cases and their controls; it is compared with the unpatched 1-replica run of
its case (on one replica the patched functions are the identity anyway).
"""

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vq_zoo.models.vqvae.vqvae import VQVAE  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 4
SHAPE = (16, 16, 3)

REMEDIES = dict(kmeans_init=True, kmeans_iters=3, dead_code_threshold=0.5, seed=7)
CASES = {
    # tests/distribute: the VQ-VAE paper's quantizers, with and without the
    # collapse remedies (k-means start, dead-code restarts).
    "ema": dict(ema=True),
    "ema_remedies": dict(ema=True, quantizer_kwargs=REMEDIES),
    "vq": dict(ema=False),
    "vq_remedies": dict(ema=False, quantizer_kwargs=REMEDIES),
    "vqvae2": None,  # made by make_model
    # tests/layers: RVQ's EMA stages with k-means start, dead-code restarts
    # and quantizer dropout; RVQ of VQ stages; LFQ; FSQ; EMA with the
    # rotation trick, cosine similarity and a projected codebook.
    "rvq": dict(quantizer="rvq", quantizer_kwargs=dict(
        num_quantizers=3, quantizer_dropout=0.5, **REMEDIES)),
    "rvq_vq": dict(quantizer="rvq", ema=False, quantizer_kwargs=dict(num_quantizers=2)),
    "lfq": dict(quantizer="lfq", embedding_dim=5, num_embeddings=32,
                quantizer_kwargs=dict(entropy_temperature=0.5)),
    "fsq": dict(quantizer="fsq", quantizer_kwargs=dict(levels=(5, 4, 3))),
    "ema_options": dict(quantizer="ema", quantizer_kwargs=dict(
        rotation_trick=True, use_cosine_similarity=True, codebook_dim=4,
        dead_code_threshold=0.5, seed=3)),
}


def make_model(case):
    if case == "vqvae2":
        from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

        model = VQVAE2(num_hiddens=16, num_residual_layers=1,
                       num_residual_hiddens=8, embedding_dim=8,
                       num_embeddings=32)
    else:
        kwargs = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                      embedding_dim=8, num_embeddings=32)
        kwargs.update(CASES[case])
        model = VQVAE.image_model(**kwargs)
    model.build((None,) + SHAPE)
    # SGD: its update is linear in the gradient, so a wrong loss scale
    # (e.g. a replica mean that is not divided by the replica count) shows.
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    return model


def data():
    rng = np.random.default_rng(0)
    # Replicas see different halves of each global batch: make the halves
    # differ in distribution so per-replica statistics really differ.
    x = rng.uniform(size=(GLOBAL_BATCH * STEPS,) + SHAPE).astype("float32")
    x[: GLOBAL_BATCH // 2] *= 0.2
    return tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)


def run(case, strategy, init_weights):
    with strategy.scope():
        model = make_model(case)
        model.set_weights(init_weights)
    history = model.fit(data(), epochs=1, verbose=0, shuffle=False)
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    return model, logs


def replica_values(variable):
    v = variable.value
    if hasattr(v, "values"):
        return [np.asarray(t) for t in v.values]
    return [np.asarray(v)]


# One strategy object per process: collective instance keys of separate
# MirroredStrategy objects can collide within a process.
ONE_DEVICE = tf.distribute.OneDeviceStrategy("/cpu:0")
MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@contextlib.contextmanager
def patched(case, control):
    """The code under test with one piece taken out, for a negative control."""
    import vq_zoo.layers  # noqa: F401

    targets = []
    if control == "no_allreduce" and (CASES[case] or {}).get("quantizer") == "lfq":
        # Each replica's entropy penalty sees only its own half of the batch.
        import vq_zoo.layers.lookup_free_quantizer as lfq

        targets = [(lfq, "cross_replica_sum", lambda x: x)]
    elif control == "no_allreduce":
        # Each replica updates its codebook from its own half-batch, as
        # Sonnet's layer does: every vector-quantizer module's all-reduce
        # (the EMA statistics, the code counts, the remedies) goes.
        for name, module in list(sys.modules.items()):
            if (name.startswith("vq_zoo.layers.") and hasattr(module, "cross_replica_sum")
                    and not name.endswith(("lookup_free_quantizer", "quantizer_outputs"))):
                targets.append((module, "cross_replica_sum", lambda x: x))
    elif control == "no_loss_scale":
        import vq_zoo.models.task as task

        targets = [(task, "loss_scale_for_replicas", lambda: 1.0)]
    elif control:
        raise ValueError(f"unknown control {control!r}")
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]
    for module, name, value in targets:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


ONE_REPLICA_RUNS = {}


def main(case, control=""):
    if case not in ONE_REPLICA_RUNS:
        keras.utils.set_random_seed(0)
        init = make_model(case).get_weights()
        ONE_REPLICA_RUNS[case] = (init, *run(case, ONE_DEVICE, init))
    init, one, logs_one = ONE_REPLICA_RUNS[case]
    with patched(case, control):
        two, logs_two = run(case, MIRRORED, init)
    report = {"logs_one": logs_one, "logs_two": logs_two, "weights": {}}
    for v1, v2, v0 in zip(one.weights, two.weights, init):
        per_replica = replica_values(v2)
        a = np.asarray(v1.value)
        report["weights"][v2.path] = {
            "max_abs_diff_1v2": float(
                max(np.max(np.abs(a - b)) for b in per_replica)
            ),
            "max_abs_diff_between_replicas": float(
                max(np.max(np.abs(per_replica[0] - b)) for b in per_replica)
            ),
            "num_replicas": len(per_replica),
            "moved": float(np.max(np.abs(a - np.asarray(v0)))),
        }
    return report


if __name__ == "__main__":
    reports = {}
    for arg in sys.argv[1:]:
        case, _, control = arg.partition(":")
        reports[arg] = main(case, control)
    print("REPORT " + json.dumps(reports))
