"""Fits a VQ-VAE on batches of which one holds a NaN (in one replica's
shard only) on 2 replicas (2 logical CPU devices), and on 1 device without
that batch; prints a JSON report. Run in a fresh process: the logical
devices must be configured before TensorFlow initialises."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vq_zoo.models.vqvae.vqvae import VQVAE  # noqa: E402

BATCH = 8


def make_model():
    model = VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                              num_residual_hiddens=8, embedding_dim=8,
                              num_embeddings=32, ema=False)
    model.build((None, 8, 8, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def main():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3 * BATCH, 8, 8, 3)).astype("float32")
    bad = x.copy()
    bad[BATCH + BATCH // 2 + 1, 2, 3, 0] = np.nan  # batch 1, replica 1's half
    init = make_model().get_weights()

    def run(strategy, data):
        with strategy.scope():
            model = make_model()
            model.set_weights(init)
        ds = tf.data.Dataset.from_tensor_slices(data).batch(BATCH)
        hist = model.fit(ds, epochs=1, verbose=0, shuffle=False)
        return model, {k: float(v[-1]) for k, v in hist.history.items()}

    two, logs = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), bad)
    one, _ = run(tf.distribute.get_strategy(),
                 np.concatenate([x[:BATCH], x[2 * BATCH:]]))
    replicas_equal = all(
        all(np.array_equal(np.asarray(t), np.asarray(v.value.values[0]))
            for t in v.value.values)
        for v in two.weights if hasattr(v.value, "values")
    )
    max_diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                   for a, b in zip(two.get_weights(), one.get_weights()))
    print(json.dumps({
        "skipped_updates": logs["skipped_updates"],
        "iterations_two": int(two.optimizer.iterations.numpy()),
        "iterations_one": int(one.optimizer.iterations.numpy()),
        "replicas_equal": replicas_equal,
        "max_diff_vs_one_device_without_bad_batch": max_diff,
        "finite": all(np.isfinite(w).all() for w in two.get_weights()),
    }))


if __name__ == "__main__":
    main()
