"""Trains a small VQ-VAE for a few steps under `get_strategy(STRATEGY)` and
saves every weight to an `.npz`. The parent sets `TF_CONFIG` for
`multi_worker`.

Usage: python multi_worker_worker.py multi_worker|default OUT.npz
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from vq_zoo.training import get_strategy  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 4


def main(name, out):
    # Multi-worker strategies must exist before any other TensorFlow op runs.
    strategy = get_strategy(name)
    import keras
    import tensorflow as tf

    from vq_zoo.models.vqvae.vqvae import VQVAE

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(GLOBAL_BATCH * STEPS, 16, 16, 3)).astype("float32")
    # The workers see different halves of every global batch: make the halves
    # differ so that per-worker statistics really differ.
    x[::GLOBAL_BATCH] *= 0.2
    options = tf.data.Options()
    # Each worker takes its share of every global batch.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    data = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH).with_options(options)
    with strategy.scope():
        model = VQVAE.image_model(
            num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
            embedding_dim=8, num_embeddings=32,
        )
        model.build((None, 16, 16, 3))
        # SGD: its update is linear in the gradient, so a wrong loss scale shows.
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    initial = {v.path: np.array(v) for v in model.weights}
    model.fit(data, epochs=1, verbose=0)
    state = {f"final/{v.path}": np.asarray(v) for v in model.weights}
    state.update({f"initial/{k}": v for k, v in initial.items()})
    state["num_replicas"] = np.asarray(strategy.num_replicas_in_sync)
    state["iterations"] = np.asarray(model.optimizer.iterations)
    np.savez(out, **state)


if __name__ == "__main__":
    main(*sys.argv[1:])
