"""The first `fit` of a model: ours against Keras' default path, in one process.

Keras' TensorFlow trainer, when no distribution strategy is set, builds the
optimizer inside the first trace of the training step; a `tf.function` whose
first trace creates variables is traced again, so Keras' path traces the
whole step twice. `Task.make_train_function` builds the optimizer first (the
same variables and initial values). This script fits the same small models
(the natural_images VQ-VAE and its gated PixelCNN prior, at the smoke
config's size) one epoch each way, alternating, and prints the traces of the
step and the wall time of each first fit, and the ratio.

Usage: python bench/fit_tracing.py [--rounds 3]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vq_zoo  # noqa: E402
from vq_zoo.models.task import Task  # noqa: E402


def models():
    vqvae = vq_zoo.VQVAE.image_model(num_hiddens=16, num_residual_layers=1,
                                     num_residual_hiddens=8, embedding_dim=8,
                                     num_embeddings=32, num_downsamples=2, channels=3,
                                     ema=True, data_variance=0.06)
    prior = vq_zoo.GatedPixelCNNPrior(num_embeddings=32, shape=(8, 8), filters=16,
                                      num_layers=2)
    rng = np.random.default_rng(0)
    images = rng.random((256, 32, 32, 3)).astype("float32")
    codes = rng.integers(0, 32, (256, 8, 8)).astype("int32")
    return [(vqvae, images), (prior, {"codes": codes})]


def first_fit(keras_default):
    """Seconds of each model's first one-epoch fit and the traces of its step."""
    traces = [0]
    original = Task.train_step

    def counted(self, data):
        traces[0] += 1
        return original(self, data)

    Task.train_step = counted
    ours = Task.__dict__["make_train_function"]
    if keras_default:  # Keras' own make_train_function, as before the fix
        Task.make_train_function = keras.Model.make_train_function
    try:
        keras.utils.set_random_seed(0)
        seconds = []
        for model, data in models():
            model.build(data.shape) if isinstance(model, vq_zoo.VQVAE) else model(data)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            start = time.perf_counter()
            model.fit(data, batch_size=32, epochs=1, verbose=0, shuffle=False)
            seconds.append(time.perf_counter() - start)
        return sum(seconds), traces[0]
    finally:
        Task.train_step = original
        Task.make_train_function = ours
        keras.backend.clear_session()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times = {"keras": [], "ours": []}
    for r in range(args.rounds):
        for name in (("keras", "ours") if r % 2 == 0 else ("ours", "keras")):
            if name == "keras":
                seconds, traces = first_fit(keras_default=True)
            else:
                seconds, traces = first_fit(keras_default=False)
            times[name].append(seconds)
            print(f"round {r}: {name:5s} {seconds:6.1f} s for both first fits, "
                  f"{traces} traces of the step")
    keras_median, ours_median = np.median(times["keras"]), np.median(times["ours"])
    print(f"median: Keras' path {keras_median:.1f} s, ours {ours_median:.1f} s; "
          f"ratio keras/ours {keras_median / ours_median:.2f}")


if __name__ == "__main__":
    main()
