"""Recomputes the held-out metrics of the shipped natural-patch presets on
the recipe's test split, and writes them to their metadata and model cards.

    python -m vq_zoo.recipes.natural_images.evaluate_presets [--write]

The test split is the recipe's: `test_patches` patches of the photos
`flower` and `coffee` (`vq_zoo.data.natural_images.TEST_IMAGES`), drawn with
`seed + 1` of the presets' own config, photos that neither training nor
validation sees. The metrics are those of the recipe's report
(`common.held_out_metrics`). With `--write`, the `metrics` of each preset's
metadata.json (not part of its sha256s, which cover config.json and the
weights) and the metrics table of its README.md are replaced; without it,
they are printed next to the recorded ones.
"""

import argparse
import json
import os
import re

VQVAE_PRESET = "vqvae_small_natural_patches_32"
PRIOR_PRESET = "gated_pixelcnn_small_natural_patches_32"


def evaluate(vqvae_preset=VQVAE_PRESET, prior_preset=PRIOR_PRESET):
    """Returns `(metrics, metadata of the VQ-VAE preset)`."""
    import numpy as np
    import tensorflow as tf

    import vq_zoo
    from vq_zoo.data.natural_images import natural_patches
    from vq_zoo.recipes import common

    meta = vq_zoo.presets.load_preset_metadata(vqvae_preset)
    config = meta["config"]
    vqvae = vq_zoo.VQVAE.from_preset(vqvae_preset)
    prior = vq_zoo.GatedPixelCNNPrior.from_preset(prior_preset)
    test = natural_patches("test", config["test_patches"], config["image_size"],
                           seed=config["seed"] + 1)
    codes = np.asarray(vqvae.encode(test))
    metrics, _ = common.held_out_metrics(
        vqvae, prior, test, tf.data.Dataset.from_tensor_slices(codes).batch(256),
        config["num_embeddings"])
    return metrics, meta


def _pretrained_dir():
    import vq_zoo

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        vq_zoo.__file__))), "pretrained")


def _write(name, metrics):
    folder = os.path.join(_pretrained_dir(), name)
    path = os.path.join(folder, "metadata.json")
    with open(path) as f:
        meta = json.load(f)
    meta["metrics"] = metrics
    with open(path, "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")
    card_path = os.path.join(folder, "README.md")
    with open(card_path) as f:
        card = f.read()
    for key, value in metrics.items():
        if isinstance(value, float):
            card = re.sub(rf"(\(`{key}`\) \| )[^|\n]+( \|)",
                          lambda m: f"{m.group(1)}{value:.4g}{m.group(2)}", card)
    with open(card_path, "w") as f:
        f.write(card)


def run(evaluate_fn, preset_names, description, argv=None):
    """The command line of a recipe's `evaluate_presets`: prints the
    recomputed metrics next to the recorded ones and, with `--write`, writes
    them into each of `preset_names`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true",
                        help=f"write the metrics into pretrained/{{{','.join(preset_names)}}}/")
    args = parser.parse_args(argv)
    metrics, meta = evaluate_fn()
    for key, value in metrics.items():
        print(f"{key}: {value} (recorded: {meta['metrics'].get(key)})")
    if args.write:
        for name in preset_names:
            _write(name, metrics)
            print(f"Wrote the metrics of {name}")
    return 0


def main(argv=None):
    return run(evaluate, (VQVAE_PRESET, PRIOR_PRESET), __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
