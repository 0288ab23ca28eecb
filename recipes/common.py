"""What the image recipes share: the config fields of a VQ-VAE + prior run,
the model builders, and the held-out report."""

import dataclasses
import json
import math
import os
import types
from typing import Optional

import numpy as np

# `quantizer` of a recipe config: "paper" (EMA when `ema`, else VQ) or a name
# of `vq_zoo.layers.quantizer_outputs.QUANTIZER_NAMES` (a test keeps them
# equal; written out so that configs load without Keras).
QUANTIZER_CHOICES = ("paper", "vq", "ema", "fsq", "lfq", "rvq")


@dataclasses.dataclass(frozen=True)
class ImageRecipeConfig:
    """Fields every image recipe has. Batch sizes are global (all replicas)."""

    image_size: int = 32
    # VQ-VAE (paper section 4.1)
    num_hiddens: int = 128
    num_residual_layers: int = 2
    num_residual_hiddens: int = 32
    embedding_dim: int = 64
    num_embeddings: int = 512
    num_downsamples: int = 2
    commitment_cost: float = 0.25
    ema: bool = True
    decay: float = 0.99
    dead_code_threshold: float = 0.0
    # The quantiser (README "Quantizers"): "paper" (EMA when `ema`, else
    # VQ), "vq", "ema", "fsq" (levels `fsq_levels`, e.g. 8,5,5,5 for 1000
    # codes), "lfq" (`num_embeddings` a power of 2) or "rvq"
    # (`num_quantizers` stages of `num_embeddings` codes, EMA stages when
    # `ema`; its prior reads each position's stage codes in turn). VQ
    # options: `rotation_trick`, `use_cosine_similarity`, `codebook_dim`.
    quantizer: str = dataclasses.field(default="paper",
                                       metadata={"choices": QUANTIZER_CHOICES})
    fsq_levels: str = "8,5,5,5"  # or a Table 1 preset: "2^8" ... "2^16"
    num_quantizers: int = 2
    quantizer_dropout: float = dataclasses.field(default=0.0,
                                                 metadata={"check": "dropout"})
    rotation_trick: bool = False
    use_cosine_similarity: bool = False
    codebook_dim: Optional[int] = None
    # "mse" (divided by the data variance, the paper's CIFAR setup),
    # "categorical" (256-way per channel) or "logistic_mixture": the two
    # discrete likelihoods also give bits/dim.
    likelihood: str = "mse"
    learning_rate: float = 2e-4
    batch_size: int = 128
    vqvae_epochs: int = 10
    vqvae_steps_per_epoch: Optional[int] = None
    # Gated PixelCNN prior over the codes
    prior_filters: int = 128
    prior_layers: int = 10
    prior_learning_rate: float = 3e-4
    prior_batch_size: int = 128
    prior_epochs: int = 10
    prior_steps_per_epoch: Optional[int] = None
    # Samples and bookkeeping
    num_samples: int = 32
    seed: int = 0
    # Keras dtype policy of every model the run builds: "float32", or
    # "mixed_bfloat16" (1.4x faster VQ-VAE steps on CPUs with
    # AVX512_BF16, other numerics; bench/RESULTS.md) / "mixed_float16" (GPUs)
    precision: str = "float32"


# The VQ-VAE of the paper's section 4.1 (CIFAR-10; section 4.2 uses it on
# ImageNet): 2 strided convolutions, 256 hidden units, 2 residual blocks of
# 32, K=512 codes of D=64, Adam 2e-4, batch 128. `ImageRecipeConfig` keyword
# arguments that the recipes' "paper" configs pass on.
PAPER_VQVAE = types.MappingProxyType(dict(
    num_hiddens=256, num_residual_layers=2, num_residual_hiddens=32,
    embedding_dim=64, num_embeddings=512, num_downsamples=2,
    learning_rate=2e-4, batch_size=128,
))


def in_memory_batches(data, batch_size, shuffle=False, seed=0, repeat=False):
    """A `tf.data` pipeline over arrays (or a tuple of arrays) held in
    memory: shuffled with full-size buffer and `drop_remainder` for
    training, in order and complete otherwise. `repeat`: forever (for a fit
    with `steps_per_epoch`, which would otherwise run out of data)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        first = data[0] if isinstance(data, tuple) else data
        ds = ds.shuffle(len(first), seed=seed)
    ds = ds.batch(batch_size, drop_remainder=shuffle)
    if repeat:
        ds = ds.repeat()
    return ds.prefetch(tf.data.AUTOTUNE)


def quantizer_choice(config):
    """`(quantizer, quantizer_kwargs)` of `VQVAE.image_model` / `VQVAE2`
    from a config's quantizer fields (absent fields at their defaults):
    `quantizer` None for "paper"; kwargs with the dead-code threshold, seed
    and k-means flag the VQ layers take, the VQ options, `levels` (fsq) or
    `num_quantizers` and `quantizer_dropout` (rvq)."""
    name = getattr(config, "quantizer", "paper")
    kwargs = dict(seed=config.seed)
    if name in ("fsq", "lfq"):
        options = [k for k in ("rotation_trick", "use_cosine_similarity", "codebook_dim")
                   if getattr(config, k, None)]
        if options:
            raise ValueError(
                f"quantizer={name} has no codebook to search: "
                f"{', '.join(options)} apply to vq, ema and rvq.")
        kwargs = {}
    else:
        kwargs["dead_code_threshold"] = config.dead_code_threshold
        if getattr(config, "kmeans_init", False):
            kwargs["kmeans_init"] = True
        for key in ("rotation_trick", "use_cosine_similarity"):
            if getattr(config, key, False):
                kwargs[key] = True
        if getattr(config, "codebook_dim", None):
            kwargs["codebook_dim"] = config.codebook_dim
    if name == "fsq":
        kwargs["levels"] = getattr(config, "fsq_levels", "8,5,5,5")
    if name == "rvq":
        kwargs["num_quantizers"] = getattr(config, "num_quantizers", 2)
        kwargs["quantizer_dropout"] = getattr(config, "quantizer_dropout", 0.0)
    return (None if name == "paper" else name), kwargs


def build_vqvae(config, data_variance, shape):
    import keras

    from vq_zoo.models.vqvae.vqvae import VQVAE

    model = VQVAE.image_model(
        num_hiddens=config.num_hiddens,
        num_residual_layers=config.num_residual_layers,
        num_residual_hiddens=config.num_residual_hiddens,
        embedding_dim=config.embedding_dim,
        num_embeddings=config.num_embeddings,
        num_downsamples=config.num_downsamples,
        channels=shape[-1],
        commitment_cost=config.commitment_cost,
        ema=config.ema,
        decay=config.decay,
        likelihood=config.likelihood,
        data_variance=float(data_variance),
        **_quantizer_arguments(config),
    )
    model.build((None,) + tuple(shape))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def check_vqvae_epochs(config):
    """A ValueError when `vqvae_epochs` is 0 without a `vqvae_preset` (0
    epochs is for a VQ-VAE that is already trained)."""
    if not config.vqvae_preset and not config.vqvae_epochs:
        raise ValueError("`vqvae_epochs` may be 0 only with a `vqvae_preset` "
                         "(a VQ-VAE that is already trained)")


def load_vqvae_preset(config, shape):
    """`config.vqvae_preset` (a preset name or folder) loaded as a `VQVAE`,
    not compiled, after checking that it encodes frames of `shape` (one
    frame's `(H, W, C)`) to `H / 2**num_downsamples` square code maps; a
    ValueError naming the preset and what the config expects when not."""
    from vq_zoo import presets
    from vq_zoo.models.vqvae.vqvae import VQVAE

    model = presets.load_preset(config.vqvae_preset, cls=VQVAE)
    side = shape[0] // 2 ** config.num_downsamples
    try:
        maps = tuple(model.encode(np.zeros((1,) + tuple(shape), np.float32)).shape[1:])
    except Exception as error:  # a preset of other frames fails inside Keras
        raise ValueError(
            f"`vqvae_preset` {config.vqvae_preset!r} cannot encode {tuple(shape)} frames "
            f"(image_size={config.image_size}): {type(error).__name__}") from None
    if maps != (side, side):
        raise ValueError(
            f"`vqvae_preset` {config.vqvae_preset!r} makes {maps} code maps of "
            f"{shape[0]}x{shape[1]} frames, the config expects {(side, side)} "
            f"(num_downsamples={config.num_downsamples})")
    return model


def _quantizer_arguments(config):
    """`quantizer_kwargs` (and `quantizer` unless "paper": the paper's
    model is built exactly as before the choice existed)."""
    name, kwargs = quantizer_choice(config)
    return dict(quantizer_kwargs=kwargs) if name is None else dict(
        quantizer=name, quantizer_kwargs=kwargs)


def build_prior(config, manifest, num_classes=None):
    import keras

    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

    prior = GatedPixelCNNPrior(
        num_embeddings=manifest["num_embeddings"],
        shape=tuple(manifest["code_shape"]),
        filters=config.prior_filters,
        num_layers=config.prior_layers,
        num_classes=num_classes,
    )
    prior.compile(optimizer=keras.optimizers.Adam(config.prior_learning_rate))
    return prior


def held_out_metrics(vqvae, prior, test_images, test_codes, num_embeddings,
                     test_labels=None):
    """The held-out metrics of a VQ-VAE + prior pair: reconstruction MSE and
    PSNR, code perplexity and usage, the prior's bits per code on
    `test_codes` (a dataset of the prior's inputs), and with a discrete
    decoder likelihood bits/dim, `-(log p(x|z) + log p(z)) / (dims ln 2)`.
    Returns `(metrics, reconstructions)`."""
    # The codes' alphabet is the quantizer's (FSQ: prod(levels)).
    num_embeddings = getattr(getattr(vqvae, "quantizer", None), "num_embeddings",
                             num_embeddings)
    recon = np.asarray(vqvae.predict(test_images, batch_size=256, verbose=0))
    mse = float(np.mean((recon - test_images) ** 2))
    codes = np.asarray(vqvae.encode(test_images))
    counts = np.bincount(codes.ravel(), minlength=num_embeddings)
    p = counts / counts.sum()
    if not getattr(prior, "compiled", False):  # e.g. loaded from a preset
        prior.compile()
    prior_logs = prior.evaluate(test_codes, verbose=0, return_dict=True)
    metrics = {
        "test_mse": mse,
        "test_psnr_db": 10 * math.log10(1.0 / mse),
        "test_perplexity": float(np.exp(-(p * np.log(p + 1e-10)).sum())),
        "test_codebook_usage": float((counts > 0).mean()),
        "test_prior_bits_per_code": float(prior_logs["bits_per_code"]),
        "code_shape": list(codes.shape[1:]),
    }
    if vqvae.likelihood.__class__.__name__ != "MeanSquaredError":
        from vq_zoo.metrics.bits_per_dim import bits_per_dim

        batches = [
            (test_images[i:i + 256],) if test_labels is None
            else (test_images[i:i + 256], test_labels[i:i + 256])
            for i in range(0, len(test_images), 256)
        ]
        metrics["test_bits_per_dim"] = float(bits_per_dim(vqvae, prior, batches))
    if test_images.shape[-1] == 3:
        metrics.update(colour_metrics(vqvae, test_images, recon))
    return metrics, recon


def colour_metrics(vqvae, test_images, reconstructions):
    """Reconstruction MSE per hue bin (12 bins of 30 degrees, red first;
    None for a bin no saturated test pixel falls in) of the test images and
    of a synthetic colour wheel at the model's size, with each one's worst
    bin over its median bin (`vq_zoo.metrics.colour`)."""
    from vq_zoo.metrics.colour import colour_wheel, error_by_hue

    test = error_by_hue(test_images, reconstructions)
    wheel = colour_wheel(size=test_images.shape[1])
    wheel_errors = error_by_hue(wheel, np.asarray(vqvae.predict(wheel, verbose=0)))
    return {"test_mse_by_hue": test["mse"],
            "test_hue_worst_to_median": test["worst_to_median"],
            "colour_wheel_mse_by_hue": wheel_errors["mse"],
            "colour_wheel_worst_to_median": wheel_errors["worst_to_median"]}


def report(pipe, vqvae, prior, test_images, test_codes, num_embeddings,
           test_labels=None):
    """Held-out metrics of the run (`held_out_metrics`), written to
    `metrics.json` with a reconstruction grid (`reconstructions.png`:
    originals in odd rows, reconstructions below them)."""
    from vq_zoo.utils.images import image_grid, write_atomic, write_png

    metrics, recon = held_out_metrics(vqvae, prior, test_images, test_codes,
                                      num_embeddings, test_labels)
    # Rows of 8 (fewer when the test split is smaller: a user's own folder).
    columns = min(8, len(test_images))
    rows = []
    for i in range(min(4, len(test_images) // columns) if columns else 0):
        rows += [test_images[columns * i:columns * (i + 1)],
                 recon[columns * i:columns * (i + 1)]]
    if rows:
        write_png(pipe.path("reconstructions.png"),
                  image_grid(np.concatenate(rows), columns=columns))
    write_atomic(pipe.path("metrics.json"), json.dumps(metrics, indent=2).encode())
    return metrics


def default_out_dir(recipe, config_name):
    return os.path.join("runs", f"{recipe}-{config_name}")


# ---------------------------------------------------------------------------
# The stages the image recipes' `main`s share (mnist, natural_images, imagenet)


def condition_by_class(num_classes):
    """The `condition_fn` of `TwoStagePipeline.train_prior` for a prior
    conditioned on `num_classes` classes: `num` TensorBoard samples go
    through the classes in turn (0, 1, ..., 0, 1, ...). `None` (an
    unconditional prior) gives `None`."""
    if num_classes is None:
        return None
    return lambda num: np.arange(num, dtype="int32") % num_classes


def train_prior_stage(pipe, config, vqvae, manifests, steps_per_epoch,
                      num_classes=None):
    """Stage 3 of an image recipe: the gated PixelCNN prior (`build_prior`)
    trained on the extracted `"train"` codes in batches of
    `config.prior_batch_size`, validated on the `"validation"` codes.

    Args:
        pipe: the recipe's open `TwoStagePipeline`.
        config: the recipe's config (an `ImageRecipeConfig`).
        vqvae: the trained VQ-VAE (its decoded prior samples go to
            TensorBoard).
        manifests: the manifests `pipe.extract_codes` returned.
        steps_per_epoch: `None`: each epoch is one pass over the codes; a
            number: the codes repeat forever and each epoch is that many
            steps.
        num_classes: `None` for an unconditional prior; else the prior is
            conditioned on the codes' labels (`condition_by_class`).

    Returns:
        The trained prior.
    """
    return pipe.train_prior(
        lambda: build_prior(config, manifests["train"], num_classes=num_classes),
        pipe.code_data("train", config.prior_batch_size, shuffle=True,
                       seed=config.seed, repeat=steps_per_epoch is not None),
        epochs=config.prior_epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=pipe.code_data("validation", 256),
        vqvae=vqvae,
        condition_fn=condition_by_class(num_classes),
    )


def train_in_memory(pipe, config, splits, sample, num_classes=None):
    """Stages 1 to 3 of an image recipe whose splits are arrays in memory:
    the VQ-VAE (`build_vqvae`, MSE scaled by the training images' variance)
    trained on `splits["train"]` in shuffled batches of `config.batch_size`
    and validated on `splits["validation"]`, the codes of the three splits
    extracted with the quantiser frozen, and the prior trained on them
    (`train_prior_stage`). `*_steps_per_epoch` of the config: `None` is one
    pass over the data per epoch, a number repeats the data.

    Args:
        pipe: the recipe's open `TwoStagePipeline`.
        config: the recipe's config (an `ImageRecipeConfig`).
        splits: `{"train": ..., "validation": ..., "test": ...}`, each float
            images `(n, height, width, channels)`, or `(images, labels)` with
            int labels in `[0, num_classes)` for a class-conditional prior.
        sample: a few held-out images shown against their reconstructions in
            TensorBoard.
        num_classes: the number of classes of the labels; `None` when the
            splits have none.

    Returns:
        `(vqvae, prior)`, trained.

    Example:

    ```python
    with context.open_pipeline() as pipe:
        vqvae, prior = common.train_in_memory(
            pipe, config, {"train": x, "validation": v, "test": t}, v[:16])
    ```
    """
    def batches(data, batch_size, shuffle=False, repeat=False):
        return in_memory_batches(data, batch_size, shuffle, config.seed, repeat)

    def images(data):
        return data[0] if isinstance(data, tuple) else data

    train, valid = images(splits["train"]), images(splits["validation"])
    vqvae = pipe.train_vqvae(
        lambda: build_vqvae(config, train.var(), train.shape[1:]),
        batches(train, config.batch_size, shuffle=True,
                repeat=config.vqvae_steps_per_epoch is not None),
        epochs=config.vqvae_epochs,
        steps_per_epoch=config.vqvae_steps_per_epoch,
        validation_data=batches(valid, 256),
        sample=sample,
    )
    manifests = pipe.extract_codes(vqvae, {
        name: batches(splits[name], 256) for name in ("train", "validation", "test")})
    prior = train_prior_stage(pipe, config, vqvae, manifests,
                              config.prior_steps_per_epoch, num_classes)
    return vqvae, prior


# ---------------------------------------------------------------------------
# What the recipes' preset exporters share (vctk, video `export_presets`)


def load_run_models(run_dir, *stages):
    """The models a finished run saved, `<run_dir>/<stage>.keras` for each
    of `stages`, in that order (a list).

    Example:

    ```python
    vqvae, prior = common.load_run_models("runs/video-small", "vqvae", "prior")
    ```
    """
    import keras

    from vq_zoo import VQVAE  # noqa: F401 (every vq_zoo class registered with Keras)

    return [keras.models.load_model(os.path.join(run_dir, f"{stage}.keras"))
            for stage in stages]


def close_card(lines, meta):
    """The text of an exporter's own model card: `lines` and a last line
    with the code license and the vq_zoo version `meta` records (`?` where
    it records none), one line each, ending with a newline."""
    return "\n".join(list(lines) + [
        "", f"Code license: Apache-2.0 (vq_zoo {meta.get('vq_zoo_version', '?')}).", ""])


# ---------------------------------------------------------------------------
# memory-maze episodes (the dmlab and video recipes)


def default_episode_dir(config):
    """`$VQ_ZOO_HOME/memory_maze/<maze>_<size>px_<steps>steps_seed<seed>`
    (default home `~/.cache/vq_zoo`): one layout for the DeepMind Lab and
    video recipes, so the two share renders of the same size."""
    from vq_zoo.utils.home import vq_zoo_home

    return os.path.join(vq_zoo_home(), "memory_maze",
                        f"{config.maze}_{config.image_size}px_"
                        f"{config.steps_per_episode}steps_seed{config.data_seed}")


def holds_episodes(directory):
    """Whether `directory` is a folder holding memory-maze episode files
    (a `--data-dir` that does is read as it is; one that does not is
    rendered into)."""
    return os.path.isdir(directory) and any(
        f.startswith("episode_") and f.endswith(".npz") for f in os.listdir(directory))


def memory_maze_episodes(config, data_dir=None, verbose=0, objects=False):
    """The folder of the config's memory-maze episodes: `data_dir` when it
    holds episodes, else `data_dir` or `default_episode_dir(config)` after
    rendering into it (completed to `config.episodes` episodes: rendering
    resumes; with `objects`, with each frame's object masks, the episodes
    already there without them rendered again)."""
    from vq_zoo.data import memory_maze

    directory = data_dir or default_episode_dir(config)
    if data_dir is None or not holds_episodes(directory):
        if verbose:
            print(f"Rendering memory-maze episodes into {directory} (cached) ...",
                  flush=True)
        memory_maze.generate_episodes(
            directory, config.episodes, config.steps_per_episode, config.data_seed,
            resolution=config.image_size, maze=config.maze,
            processes=config.render_processes, verbose=bool(verbose), objects=objects)
    return directory


def episodes_to_read(config, data_dir=None):
    """How many of a memory-maze folder's episodes a run reads: the cache
    (no `data_dir`) may hold more than this config renders (another config
    completed it to more), so a run reads its config's first
    `config.episodes`; a user's `data_dir` is read whole (None)."""
    return None if data_dir else config.episodes


def check_image_size(config):
    """A ValueError unless the VQ-VAE's `num_downsamples` halvings divide
    `config.image_size` (33x33 frames cannot make whole code maps)."""
    scale = 2 ** config.num_downsamples
    if config.image_size % scale:
        raise ValueError(
            f"image_size={config.image_size} must be a multiple of 2**num_downsamples = "
            f"{scale} (num_downsamples={config.num_downsamples})")


def check_memory_maze_data(config, data_dir=None, min_steps=1):
    """Before a memory-maze recipe trains: the episodes it will read (those
    already in `data_dir` or the cache; the rest are rendered from the
    config) split into train, validation and test, and each file already
    there is readable, `config.image_size` square, with `min_steps` steps
    and memory-maze's actions; a ValueError naming what is not."""
    from vq_zoo.data import memory_maze

    directory = data_dir or default_episode_dir(config)
    existing = (len(memory_maze.episode_files(directory))
                if data_dir and os.path.isdir(directory) and any(
                    f.startswith("episode_") for f in os.listdir(directory)) else 0)
    memory_maze.split_episodes(existing or config.episodes, config.validation_fraction,
                               config.test_fraction)
    if config.steps_per_episode < min_steps and not existing:
        raise ValueError(f"steps_per_episode={config.steps_per_episode}: the config needs "
                         f"episodes of at least {min_steps} steps")
    memory_maze.check_episodes(directory, config.image_size, min_steps,
                               max_episodes=episodes_to_read(config, data_dir))
