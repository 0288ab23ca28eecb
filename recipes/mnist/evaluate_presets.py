"""Recomputes the held-out metrics of the shipped MNIST presets on the
recipe's test split, and writes them to their metadata and model cards.

    python -m vq_zoo.recipes.mnist.evaluate_presets [--write]

The test split is the recipe's: the first `test_examples` digits of MNIST's
10,000 test digits (all of them for the shipped presets' config), with their
labels as the prior's condition. The metrics are those of the recipe's
report (`common.held_out_metrics`); `--write` replaces the `metrics` of
each preset's metadata.json and the metrics table of its README.md, as
`vq_zoo.recipes.natural_images.evaluate_presets` does.
"""

import argparse

VQVAE_PRESET = "vqvae_small_mnist_28"
PRIOR_PRESET = "gated_pixelcnn_small_mnist_28"


def evaluate():
    """Returns `(metrics, metadata of the VQ-VAE preset)`."""
    import numpy as np
    import tensorflow as tf

    import vq_zoo
    from vq_zoo.data.mnist import load_mnist
    from vq_zoo.recipes import common

    meta = vq_zoo.presets.load_preset_metadata(VQVAE_PRESET)
    config = meta["config"]
    vqvae = vq_zoo.VQVAE.from_preset(VQVAE_PRESET)
    prior = vq_zoo.GatedPixelCNNPrior.from_preset(PRIOR_PRESET)
    x, y = load_mnist("test")
    n = config.get("test_examples") or len(x)
    x, y = x[:n], y[:n]
    codes = np.concatenate([np.asarray(vqvae.encode(x[i:i + 500]))
                            for i in range(0, len(x), 500)])
    data = tf.data.Dataset.from_tensor_slices(
        {"codes": codes, "condition": y.astype("int32")}).batch(256)
    metrics, _ = common.held_out_metrics(
        vqvae, prior, x, data, config["num_embeddings"], test_labels=y)
    return metrics, meta


def main(argv=None):
    from vq_zoo.recipes.natural_images.evaluate_presets import run

    return run(evaluate, (VQVAE_PRESET, PRIOR_PRESET), __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
