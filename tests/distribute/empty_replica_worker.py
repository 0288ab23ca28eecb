"""One epoch of an EMA VQ-VAE on 3 examples in batches of 2 under 2
replicas (2 logical CPU devices): the first batch reaches the replicas as
1/1, the last as 1/0, an empty batch on replica 1. Beside it, from the same
weights on 1 replica: the same epoch, and its first step alone. Prints a
JSON report. Run in a fresh process: the logical devices must be configured
before TensorFlow initialises. Usage: python empty_replica_worker.py"""

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

SHAPE = (16, 16, 3)


def make_model(weights=None):
    keras.utils.set_random_seed(0)
    model = VQVAE.image_model(num_hiddens=8, num_residual_hiddens=4, embedding_dim=4,
                              num_embeddings=8, ema=True)
    model.build((None,) + SHAPE)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def fit(model, x):
    history = model.fit(x, batch_size=2, epochs=1, shuffle=False, verbose=0).history
    return [np.array(v.numpy()) for v in model.weights], {
        k: float(v[-1]) for k, v in history.items()}


def main():
    x = np.random.default_rng(0).uniform(size=(3,) + SHAPE).astype("float32")
    single = make_model()
    weights = single.get_weights()
    start = [np.array(v.numpy()) for v in single.weights]
    first, _ = fit(make_model(weights), x[:2])
    whole, _ = fit(single, x)
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        mirrored_model = make_model(weights)
    mirrored, logs = fit(mirrored_model, x)
    trainable = {id(v) for v in single.trainable_weights}
    report = {
        "names": [v.path for v in single.weights],
        "kinds": ["trainable" if id(v) in trainable else "state" for v in single.weights],
        "start": [w.tolist() for w in start],
        "first_step": [w.tolist() for w in first],
        "single": [w.tolist() for w in whole],
        "mirrored": [w.tolist() for w in mirrored],
        "logs_mirrored": logs,
    }
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()
