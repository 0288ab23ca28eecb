"""Configs of the VQ-VAE-2 recipe (Razavi et al. 2019)."""

import dataclasses
from typing import Optional

from vq_zoo.recipes.common import QUANTIZER_CHOICES

DATASETS = ("photos_64", "imagenet2012", "image_dir")


@dataclasses.dataclass(frozen=True)
class VQVAE2Config:
    """A VQ-VAE-2 and one gated PixelCNN prior per code level.

    `dataset`: "photos_64" (64x64 crops of bundled photos, split by source
    photo, `vq_zoo.data.photos_64`; with `include_opencv` also OpenCV's
    sample photos, fetched with apt), "imagenet2012" (tfds, manual download,
    `--data-dir`) or "image_dir" (every PNG/JPEG under `--data-dir`, e.g.
    FFHQ; split by file). Batch sizes are global (all replicas). Level `l`'s
    prior is conditioned on the codes of the level above it (the top prior
    is unconditional, with causal self-attention every
    `top_prior_attention_every` layers).
    """

    dataset: str = dataclasses.field(default="photos_64",
                                     metadata={"choices": DATASETS})
    image_size: int = 64
    include_opencv: bool = True
    # photos_64: each training crop's colours rotated about the grey axis by
    # a random angle (`vq_zoo.data.natural_images.rotate_hues`; the bundled
    # photos hold almost no green, teal or magenta).
    hue_rotation: bool = True
    train_examples: int = 8192  # crops (photos_64) or files (image_dir)
    validation_examples: int = 512
    test_examples: int = 512
    # ImageNet: batches of the training split encoded for the priors
    # (0: all of it), and batches used to estimate the data variance.
    extract_train_batches: int = 0
    variance_batches: int = 10
    # VQ-VAE-2 (paper section 3.1, appendix A)
    num_levels: int = 2
    num_hiddens: int = 128
    num_residual_layers: int = 2
    num_residual_hiddens: int = 64
    embedding_dim: int = 64
    num_embeddings: int = 512
    bottom_downsamples: int = 2
    commitment_cost: float = 0.25
    ema: bool = True
    decay: float = 0.99
    dead_code_threshold: float = 0.0
    kmeans_init: bool = False
    # The quantiser of every level, as the image recipes'
    # (`vq_zoo.recipes.common.ImageRecipeConfig`): "paper", "vq", "ema",
    # "fsq", "lfq" or "rvq", with `fsq_levels`, `num_quantizers`,
    # `quantizer_dropout` and the VQ options.
    quantizer: str = dataclasses.field(default="paper",
                                       metadata={"choices": QUANTIZER_CHOICES})
    fsq_levels: str = "8,5,5,5"  # or a Table 1 preset: "2^8" ... "2^16"
    num_quantizers: int = 2
    quantizer_dropout: float = dataclasses.field(default=0.0,
                                                 metadata={"check": "dropout"})
    rotation_trick: bool = False
    use_cosine_similarity: bool = False
    codebook_dim: Optional[int] = None
    learning_rate: float = 3e-4
    batch_size: int = 128
    vqvae_epochs: int = 10
    vqvae_steps_per_epoch: Optional[int] = None
    # The top prior: gated PixelCNN with causal self-attention blocks.
    top_prior_filters: int = 128
    top_prior_layers: int = 10
    top_prior_attention_every: int = 5
    top_prior_num_heads: int = 4
    top_prior_dropout: float = dataclasses.field(default=0.1,
                                                 metadata={"check": "dropout"})
    # The lower priors: conditioned on the level above through a residual
    # conditioning stack.
    prior_filters: int = 128
    prior_layers: int = 10
    conditioning_layers: int = dataclasses.field(default=2,
                                                 metadata={"check": "non_negative"})
    prior_learning_rate: float = 3e-4
    prior_batch_size: int = 128
    prior_epochs: int = 10
    prior_steps_per_epoch: Optional[int] = None
    # Samples and bookkeeping
    num_samples: int = 32
    seed: int = 0
    # Keras dtype policy of every model the run builds: "float32",
    # "mixed_bfloat16" or "mixed_float16" (vq_zoo.pipeline.pipeline.set_precision)
    precision: str = "float32"


# The model of the paper configs (appendix A): 128 hidden units, 2 residual
# blocks of 64, K=512 and D=64 per level, Adam 3e-4, 100 epochs; priors much
# smaller than the paper's (which needs a TPU pod: the top prior there has
# 20+ layers with attention, the bottom one a deep conditioning stack). Not
# itself a named config.
_PAPER = VQVAE2Config(
    num_hiddens=128, num_residual_hiddens=64, embedding_dim=64,
    num_embeddings=512, learning_rate=3e-4, vqvae_epochs=100,
    top_prior_filters=512, top_prior_layers=20, top_prior_attention_every=5,
    top_prior_num_heads=8, top_prior_dropout=0.1, prior_filters=256,
    prior_layers=20, conditioning_layers=20,
)

CONFIGS = {
    # Section 4 / appendix A, ImageNet 256x256: bottom 64x64 and top 32x32
    # codes (the `_PAPER` model). For a machine with GPUs and the data.
    "paper_imagenet256": dataclasses.replace(
        _PAPER, dataset="imagenet2012", image_size=256, bottom_downsamples=2,
        batch_size=128, vqvae_steps_per_epoch=2500, validation_examples=2048,
        test_examples=10000, extract_train_batches=0, prior_batch_size=128,
        prior_epochs=100, prior_steps_per_epoch=2500, num_samples=16,
    ),
    # FFHQ 1024x1024 (appendix A): three levels, bottom 128x128, middle
    # 64x64, top 32x32 (bottom_downsamples=3). Images from --data-dir.
    "paper_ffhq1024": dataclasses.replace(
        _PAPER, dataset="image_dir", image_size=1024, num_levels=3,
        bottom_downsamples=3, batch_size=32, train_examples=60000,
        validation_examples=1000, test_examples=9000,
        vqvae_steps_per_epoch=2000, prior_batch_size=32, prior_epochs=50,
        prior_steps_per_epoch=2000, num_samples=8,
    ),
    # The shipped preset (about 15 minutes on 2 CPU cores): 64x64 crops to
    # 16x16 bottom and 8x8 top codes.
    "small": VQVAE2Config(
        dataset="photos_64", image_size=64, include_opencv=True,
        train_examples=8192, validation_examples=512, test_examples=1024,
        num_hiddens=64, num_residual_layers=2, num_residual_hiddens=32,
        embedding_dim=32, num_embeddings=128, bottom_downsamples=2,
        dead_code_threshold=0.01, kmeans_init=True, learning_rate=1e-3,
        batch_size=32, vqvae_epochs=3, top_prior_filters=64, top_prior_layers=4,
        top_prior_attention_every=2, top_prior_num_heads=2, top_prior_dropout=0.0,
        prior_filters=48, prior_layers=4, conditioning_layers=1,
        prior_learning_rate=1e-3, prior_batch_size=32, prior_epochs=3,
        prior_steps_per_epoch=100, num_samples=32,
    ),
    # Seconds: CI runs the whole pipeline with it (bundled photos only, no
    # apt).
    "smoke": VQVAE2Config(
        dataset="photos_64", image_size=32, include_opencv=False,
        train_examples=128, validation_examples=32, test_examples=32,
        num_hiddens=16, num_residual_layers=1, num_residual_hiddens=8,
        embedding_dim=8, num_embeddings=32, learning_rate=2e-3, batch_size=32,
        vqvae_epochs=1, top_prior_filters=16, top_prior_layers=2,
        top_prior_attention_every=2, top_prior_num_heads=2, top_prior_dropout=0.0,
        prior_filters=16, prior_layers=2, conditioning_layers=1,
        prior_batch_size=32, prior_epochs=1, num_samples=8,
    ),
}


def data_dir_use(config):
    """What `--data-dir` is to this config (None: it reads none)."""
    if config.dataset == "image_dir":
        return "the folder of PNG/JPEG images to train on"
    if config.dataset == "imagenet2012":
        return "the tensorflow-datasets data dir holding imagenet2012"
    return None  # photos_64: bundled photos
