"""Trains a small VQ-VAE with each new quantizer for a few steps on 1 and on
2 replicas (2 logical CPU devices) from the same weights and global batches,
and prints a JSON report (like tests/distribute/replica_worker.py).

Run in a fresh process: the logical devices must be configured before
TensorFlow initialises. Usage: python quantizer_replica_worker.py CASE ... |
CASE:CONTROL
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
    # EMA stages with k-means start, dead-code restarts and quantizer dropout.
    "rvq": dict(quantizer="rvq", quantizer_kwargs=dict(
        num_quantizers=3, quantizer_dropout=0.5, kmeans_init=True, kmeans_iters=3,
        dead_code_threshold=0.5, seed=7)),
    "rvq_vq": dict(quantizer="rvq", ema=False, quantizer_kwargs=dict(num_quantizers=2)),
    "lfq": dict(quantizer="lfq", embedding_dim=5, num_embeddings=32,
                quantizer_kwargs=dict(entropy_temperature=0.5)),
    "fsq": dict(quantizer="fsq", quantizer_kwargs=dict(levels=(5, 4, 3))),
    "ema_options": dict(quantizer="ema", quantizer_kwargs=dict(
        rotation_trick=True, use_cosine_similarity=True, codebook_dim=4,
        dead_code_threshold=0.5, seed=3)),
}


def make_model(case):
    kwargs = dict(num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
                  embedding_dim=8, num_embeddings=32)
    kwargs.update(CASES[case])
    model = VQVAE.image_model(**kwargs)
    model.build((None,) + SHAPE)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    return model


def data():
    rng = np.random.default_rng(0)
    # The replicas' halves differ in distribution, so per-replica statistics
    # would differ.
    x = rng.uniform(size=(GLOBAL_BATCH * STEPS,) + SHAPE).astype("float32")
    x[: GLOBAL_BATCH // 2] *= 0.2
    return tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)


def run(case, strategy, init_weights):
    with strategy.scope():
        model = make_model(case)
        model.set_weights(init_weights)
    history = model.fit(data(), epochs=1, verbose=0, shuffle=False)
    return model, {k: float(v[-1]) for k, v in history.history.items()}


def replica_values(variable):
    v = variable.value
    if hasattr(v, "values"):
        return [np.asarray(t) for t in v.values]
    return [np.asarray(v)]


ONE_DEVICE = tf.distribute.OneDeviceStrategy("/cpu:0")
MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def patch(control):
    if control == "no_allreduce":
        # Negative control: each replica's entropy penalty sees only its own
        # half of the batch.
        import vq_zoo.layers.lookup_free_quantizer as lfq

        lfq.cross_replica_sum = lambda x: x


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
            "max_abs_diff_1v2": float(max(np.max(np.abs(a - b)) for b in per_replica)),
            "max_abs_diff_between_replicas": float(
                max(np.max(np.abs(per_replica[0] - b)) for b in per_replica)),
            "num_replicas": len(per_replica),
            "moved": float(np.max(np.abs(a - np.asarray(v0)))),
        }
    return report


if __name__ == "__main__":
    reports = {}
    for arg in sys.argv[1:]:
        case, _, control = arg.partition(":")
        if control:
            patch(control)
        reports[arg] = main(case)
    print("REPORT " + json.dumps(reports))
