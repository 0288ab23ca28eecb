"""Runs training steps on 1 and on 2 replicas (2 logical CPU devices) with the
same global batch and the same initial weights, and prints a JSON report.

Run in a fresh process: the logical devices must be configured before
TensorFlow initialises. Usage: python replica_worker.py CASE [CASE ...] | CASE:CONTROL
"""

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

CASES = {
    "ema": dict(ema=True),
    "ema_remedies": dict(
        ema=True,
        quantizer_kwargs=dict(kmeans_init=True, kmeans_iters=3,
                              dead_code_threshold=0.5, seed=7),
    ),
    "vq": dict(ema=False),
    "vq_remedies": dict(
        ema=False,
        quantizer_kwargs=dict(kmeans_init=True, kmeans_iters=3,
                              dead_code_threshold=0.5, seed=7),
    ),
}


def make_model(case):
    if case == "vqvae2":
        from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

        model = VQVAE2(num_hiddens=16, num_residual_layers=1,
                       num_residual_hiddens=8, embedding_dim=8,
                       num_embeddings=32)
    else:
        model = VQVAE.image_model(
            num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
            embedding_dim=8, num_embeddings=32, **CASES[case],
        )
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


def patch(control):
    if control == "no_allreduce":
        # Negative control: without the all-reduce each replica updates its
        # codebook from its own half-batch, as Sonnet's layer does.
        import vq_zoo.layers.base_vector_quantizer as base
        import vq_zoo.layers.vector_quantizer_ema as ema

        base.cross_replica_sum = ema.cross_replica_sum = lambda x: x
    elif control == "no_loss_scale":
        import vq_zoo.models.task as task

        task.loss_scale_for_replicas = lambda: 1.0


def main(case):
    keras.utils.set_random_seed(0)
    init = make_model(case).get_weights()
    one, logs_one = run(case, ONE_DEVICE, init)
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
    # argv: CASE [CASE ...], or one "CASE:CONTROL" for a negative control
    # (controls patch module functions, so they run alone in a process).
    reports = {}
    for arg in sys.argv[1:]:
        case, _, control = arg.partition(":")
        if control:
            patch(control)
        reports[arg] = main(case)
    print("REPORT " + json.dumps(reports))
