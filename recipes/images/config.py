"""Configs of the images recipe: the user's own images (a folder, or any
tensorflow-datasets image dataset) through the whole two-stage pipeline."""

import dataclasses

from vq_zoo.recipes.common import PAPER_VQVAE, ImageRecipeConfig

MODELS = ("vqvae", "vqvae2")


@dataclasses.dataclass(frozen=True)
class ImagesConfig(ImageRecipeConfig):
    """The user's images to codes, a prior, samples and a report.

    `dataset`: "folder" (the images under `--data-dir`, searched
    recursively; `vq_zoo.data.image_folder`) or "tfds:NAME[/CONFIG]" (a
    tensorflow-datasets dataset with an `image` feature, prepared in
    `--data-dir` or `~/tensorflow_datasets`; `tfds_download=true` lets tfds
    download it). Class labels come from the first-level subfolders (or the
    tfds `label` feature); with labels the prior is class-conditional.
    `model`: "vqvae" (one code map and a gated PixelCNN prior) or "vqvae2"
    (`num_levels` code maps, one prior per level, as `recipes/vqvae2`; its
    priors are unconditional). `channels`: 0 (1 when every image is grey,
    else 3), 1 or 3. `validation_fraction`, `test_fraction`: the held-out
    shares, by a hash of each file's relative path. `test_examples`: at most
    that many test images in the report and its codes (0: all).
    `variance_batches`: training batches that estimate the data variance
    (which scales the MSE).
    """

    dataset: str = "folder"
    model: str = dataclasses.field(default="vqvae", metadata={"choices": MODELS})
    image_size: int = 64
    channels: int = dataclasses.field(default=0, metadata={"choices": (0, 1, 3)})
    validation_fraction: float = dataclasses.field(default=0.1,
                                                   metadata={"range": (0.0, 1.0)})
    test_fraction: float = dataclasses.field(default=0.1, metadata={"range": (0.0, 1.0)})
    test_examples: int = 0
    variance_batches: int = 10
    tfds_download: bool = False
    # The codebook initialised by k-means on the first batch (either model;
    # with `dead_code_threshold` >= 1 a code used less than once a batch
    # restarts: the README's quickstart measures it against collapse).
    kmeans_init: bool = False
    # VQ-VAE-2 (model=vqvae2; `num_downsamples` is its bottom level's)
    num_levels: int = 2
    top_prior_filters: int = 64
    top_prior_layers: int = 4
    top_prior_attention_every: int = 2
    top_prior_num_heads: int = 2
    top_prior_dropout: float = dataclasses.field(default=0.0,
                                                 metadata={"check": "dropout"})
    conditioning_layers: int = dataclasses.field(default=1,
                                                 metadata={"check": "non_negative"})

    def __post_init__(self):
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        if self.dataset != "folder" and not (
                self.dataset.startswith("tfds:") and len(self.dataset) > 5):
            raise ValueError(f"--set dataset={self.dataset}: expected folder (the "
                             "images under --data-dir) or tfds:NAME[/CONFIG]")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"--set validation_fraction={self.validation_fraction}, test_fraction="
                f"{self.test_fraction}: expected their sum below 1 (the rest trains)")


CONFIGS = {
    # CPU-sized: 64x64 images to 16x16 codes (K=256), a fixed budget of
    # 2,000 VQ-VAE steps and 1,000 prior steps whatever the folder's size.
    "default": ImagesConfig(
        image_size=64, num_hiddens=64, num_residual_layers=2,
        num_residual_hiddens=32, embedding_dim=32, num_embeddings=256,
        dead_code_threshold=1.0, kmeans_init=True, learning_rate=2e-3,
        batch_size=32, vqvae_epochs=10, vqvae_steps_per_epoch=200, prior_filters=64,
        prior_layers=6, prior_learning_rate=1e-3, prior_batch_size=32,
        prior_epochs=5, prior_steps_per_epoch=200, num_samples=32,
    ),
    # A machine with a GPU: 128x128 images to 32x32 codes with the paper's
    # section-4.1 VQ-VAE (K=512) and a deeper prior (add --set
    # precision=mixed_float16 for tensor cores).
    "gpu": ImagesConfig(
        **PAPER_VQVAE, image_size=128, vqvae_epochs=100,
        vqvae_steps_per_epoch=1000, prior_filters=256, prior_layers=15,
        prior_batch_size=128, prior_epochs=100, prior_steps_per_epoch=1000,
        num_samples=64, top_prior_filters=256,
        top_prior_layers=12, top_prior_attention_every=4, top_prior_num_heads=8,
        top_prior_dropout=0.1, conditioning_layers=4, kmeans_init=True,
        dead_code_threshold=1.0,
    ),
    # Seconds: CI runs the whole pipeline with it on a generated folder.
    "smoke": ImagesConfig(
        image_size=16, num_hiddens=16, num_residual_layers=1,
        num_residual_hiddens=8, embedding_dim=8, num_embeddings=16,
        learning_rate=2e-3, batch_size=8, vqvae_epochs=1,
        vqvae_steps_per_epoch=4, prior_filters=16, prior_layers=2,
        prior_batch_size=8, prior_epochs=1, prior_steps_per_epoch=4,
        num_samples=4, variance_batches=2, top_prior_filters=16,
        top_prior_layers=2, top_prior_attention_every=2, top_prior_num_heads=2,
        conditioning_layers=1,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this config."""
    if config.dataset.startswith("tfds:"):
        return f"the tensorflow-datasets data dir holding {config.dataset[5:]}"
    return "the folder of your images (searched recursively; class subfolders)"
