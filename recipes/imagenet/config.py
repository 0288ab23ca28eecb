"""Configs of the ImageNet recipe (paper section 4.2)."""

import dataclasses

from vq_zoo.recipes.common import PAPER_VQVAE, ImageRecipeConfig


@dataclasses.dataclass(frozen=True)
class ImageNetConfig(ImageRecipeConfig):
    """`dataset`: imagenet2012 (manual download), imagenet_resized/64x64 or
    imagenet_resized/32x32. `download`: let tfds download the resized
    variants (imagenet2012 is never downloaded). `data_variance`: variance of
    the training images, estimated on `variance_batches` batches when 0."""

    dataset: str = "imagenet2012"
    download: bool = False
    data_variance: float = 0.0
    variance_batches: int = 10
    eval_examples: int = 10000
    extract_train_batches: int = 0  # 0: the whole training split


CONFIGS = {
    # Section 4.2: 128x128x3 -> 32x32x1 codes, K=512; encoder and decoder of
    # section 4.1 with 256 hidden units; Adam 2e-4, batch 128 (250k steps in
    # the paper: 100 epochs of 2500 steps here); class-conditional prior.
    "paper": ImageNetConfig(
        **PAPER_VQVAE, image_size=128, vqvae_epochs=100,
        vqvae_steps_per_epoch=2500, prior_filters=256, prior_layers=20,
        prior_batch_size=128, prior_epochs=100, prior_steps_per_epoch=2500,
    ),
    # imagenet_resized/64x64 -> 16x16 codes: a day-sized run on one GPU.
    "resized64": ImageNetConfig(
        dataset="imagenet_resized/64x64", image_size=64, num_hiddens=128,
        vqvae_epochs=30, vqvae_steps_per_epoch=2000, prior_filters=128,
        prior_layers=12, prior_epochs=30, prior_steps_per_epoch=2000,
    ),
    # Seconds, on tfds.testing.mock_data: what CI runs.
    "smoke": ImageNetConfig(
        dataset="imagenet_resized/32x32", image_size=32, num_hiddens=16,
        num_residual_layers=1, num_residual_hiddens=8, embedding_dim=8,
        num_embeddings=32, batch_size=16, vqvae_epochs=1,
        vqvae_steps_per_epoch=4, prior_filters=16, prior_layers=2,
        prior_batch_size=16, prior_epochs=1, prior_steps_per_epoch=4,
        num_samples=8, variance_batches=2, eval_examples=32,
        extract_train_batches=4,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this recipe (None: it reads none)."""
    return f"the tensorflow-datasets data dir holding {config.dataset}"
