"""Fits the priors for a few steps on 1 and on 2 replicas (2 logical CPU
devices) with the same global batch and initial weights; prints a report.

Run in a fresh process: the logical devices must exist before TensorFlow
initialises.
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

from vq_zoo import GatedPixelCNN1DPrior  # noqa: E402
from vq_zoo import GatedPixelCNNPrior  # noqa: E402

GLOBAL_BATCH, STEPS = 8, 3


def make(case):
    if case == "2d":
        return GatedPixelCNNPrior(8, (6, 6), filters=8, num_layers=2, num_classes=3)
    return GatedPixelCNN1DPrior(8, 10, filters=8, dilation_rates=(1, 2), num_classes=3)


def data(case):
    rng = np.random.default_rng(0)
    shape = (6, 6) if case == "2d" else (10,)
    n = GLOBAL_BATCH * STEPS
    codes = rng.integers(0, 8, (n,) + shape).astype("int32")
    # Halves of each batch differ in law, so per-replica losses differ.
    codes[: GLOBAL_BATCH // 2] //= 4
    labels = rng.integers(0, 3, (n,)).astype("int32")
    return tf.data.Dataset.from_tensor_slices(
        {"codes": codes, "condition": labels}
    ).batch(GLOBAL_BATCH)


def run(case, strategy, weights):
    with strategy.scope():
        model = make(case)
        model.set_weights(weights)
        # SGD is linear in the gradient: a wrong loss scale would show.
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(data(case), epochs=1, verbose=0, shuffle=False)
    return model, {k: float(v[-1]) for k, v in history.history.items()}


def main(cases):
    report = {}
    # One strategy for every case: a second MirroredStrategy in the same
    # process would reuse collective instance keys.
    two_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for case in cases:
        keras.utils.set_random_seed(0)
        init = make(case).get_weights()
        one, logs_one = run(case, tf.distribute.OneDeviceStrategy("/cpu:0"), init)
        two, logs_two = run(case, two_strategy, init)
        w1, w2 = one.get_weights(), two.get_weights()
        report[case] = {
            "num_replicas": two_strategy.num_replicas_in_sync,
            "max_abs_diff_1v2": max(float(np.abs(a - b).max()) for a, b in zip(w1, w2)),
            "min_moved": min(float(np.abs(a - b).max()) for a, b in zip(w1, init)),
            "logs_one": logs_one,
            "logs_two": logs_two,
        }
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
