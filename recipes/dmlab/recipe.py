"""DeepMind Lab (arXiv:1711.00937, section 4.2) end to end: a VQ-VAE from
84x84 frames to 21x21 codes (K=512), a second VQ-VAE from those maps to 3
codes of 3 codebooks of 512 (27 bits per frame) whose decoder is a gated
PixelCNN over the 21x21 codes conditioned on the 3 codes, and priors on
both code levels.

    vq-zoo train dmlab --config small      # memory-maze frames (rendered once, cached)
    vq-zoo train dmlab --config paper --data-dir ~/tensorflow_datasets   # tfds dmlab
    vq-zoo train dmlab --config smoke      # seconds

Stages (each resumes on its own, in this order):

1. `vqvae`: stage 1, frames -> 21x21 code maps (`vqvae.keras`).
2. `codes`: every split's maps, quantiser frozen (`codes/<split>/`).
3. `prior`: stage 1's gated PixelCNN prior on the maps (`prior.keras`).
4. `stage2_vqvae`: `DMLabVQVAE` on the maps: 3 codes, one codebook each,
   PixelCNN decoder (`stage2_vqvae.keras`).
   With `stage2_head_epochs` > 0, `stage2_head` then trains stage 2 on the
   frames, through stage 1's frozen decoder (`MapHeadTuner`,
   `stage2_head.keras`; `stage2_head_tune`: the map head alone, the codes
   unchanged, or all of stage 2; `stage2_head_object_weight`: the target
   balls' pixels weighed beside the frame): the tuned stage 2 is the one
   every later stage, the report and the export use.
5. `stage2_codes`: every split's 3 codes (`codes/stage2_codes/<split>/`,
   arrays `code1`, `code2`, `code3`).
6. `stage2_prior`: a 1D gated prior of length 3 over the codes
   (`stage2_prior.keras`). The 3 codebooks have the same K, so the codes
   are modelled as one sequence over a shared vocabulary of K tokens; the
   position (hence the codebook) of each token is known to the causal
   convolutions from the zero padding before the sequence.
7. `sample`: 3 codes from the prior -> a 21x21 map from stage 2's decoder
   -> a frame from stage 1's decoder (`samples.png`, `sample_codes.npz`).
8. `report`: held-out (test split, whole episodes never trained on)
   metrics in `metrics.json` (the map decoded from the codes greedily,
   sampled, and by the consensus of `stage2_decoding_samples` draws), and
   `reconstructions.png`: rows of frames | stage-1 reconstructions |
   27-bit reconstructions (stage 2's map by `stage2_decoding`, decoded by
   stage 1) | 27-bit reconstructions from a sampled map. With
   `object_masks` (memory-maze episodes rendered with each frame's target
   balls marked), what each stage keeps of the objects
   (`vq_zoo.metrics.objects`: `test_objects_kept`,
   `test_stage2_objects_kept`, PSNR over their pixels) and `objects.png`,
   the same rows for test frames that show one.

TensorBoard (`<run>/logs`): every scalar of every stage; stage 1's
reconstructions and code histogram (`logs/vqvae/vqvae`); the priors'
decoded samples (`logs/prior/images`, `logs/stage2_prior/images`: through
both stages); stage 2's grid of frames | stage 1 | 27 bits and a histogram
of each codebook's codes (`logs/stage2_vqvae/images`).
"""

import dataclasses
import json
import math
import os

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.dmlab.config import CONFIGS
from vq_zoo.recipes.dmlab.config import data_dir_use

DATA_CARD = dict(
    dataset="memory_maze_84",
    license="memory-maze is Apache-2.0 (jurgisp/memory-maze); the frames are "
            "rendered by this project with MuJoCo (Apache-2.0) and dm_control "
            "(Apache-2.0) textures.",
)


def data_words(config):
    """What a dmlab run's frames are, in words, from its `config` (the
    dataclass or its recorded dict): the episodes and their split."""
    from vq_zoo.data.memory_maze import split_episodes

    c = config if isinstance(config, dict) else dataclasses.asdict(config)
    if c.get("dataset", "memory_maze") != "memory_maze":
        return ("DeepMind Lab frames from tensorflow-datasets `dmlab` (360x480 RGB), resized "
                f"whole to {c['image_size']}x{c['image_size']} (`vq_zoo.data.dmlab`), its own "
                "train / validation / test splits.")
    split = split_episodes(c["episodes"], c["validation_fraction"], c["test_fraction"])
    size = f"{c['image_size']}x{c['image_size']}"
    return (f"{size} first-person RGB frames of memory-maze {c['maze']} mazes (Pasukonis "
            "et al. 2022, a MuJoCo re-creation of DeepMind Lab's explore_goal_locations "
            f"levels), rendered at {size} by `vq_zoo.data.memory_maze` with an exploring "
            "policy (mostly forward, random held turns, turning away from walls): "
            f"{c['episodes']} episodes of {c['steps_per_episode']} steps (seed "
            f"{c['data_seed']}), each in its own maze, split by episode: "
            f"{len(split['train'])} train, {len(split['validation'])} validation, "
            f"{len(split['test'])} test episodes.")


# ---------------------------------------------------------------- checks
def check_config(config, data_dir=None):
    """Builds the run's models from `config` on blank inputs and checks the
    episodes already on disk, before any run dir exists: a config whose
    fields pass their own checks but cannot work together (frames the
    downsamplings do not divide, no stage-2 codes) or unreadable episode
    files raise a `ValueError` here instead of after stage 1's training."""
    from vq_zoo.recipes import common

    size = config.image_size
    common.check_image_size(config)
    if config.dataset == "memory_maze":
        common.check_memory_maze_data(config, data_dir)
    common.check_vqvae_epochs(config)
    shape = (size // 2 ** config.num_downsamples,) * 2
    if not config.vqvae_preset:
        vqvae = common.build_vqvae(config, 1.0, (size, size, 3))
        shape = tuple(vqvae.encode(np.zeros((1, size, size, 3), "float32")).shape[1:])
    manifest = {"num_embeddings": config.vqvae_merge_codes or config.num_embeddings,
                "code_shape": shape}
    if config.stage2_decoding == "regression" and not config.stage2_map_weight > 0:
        raise ValueError("stage2_decoding='regression' decodes by the map head: set "
                         "stage2_map_weight > 0 (it is 0)")
    if config.stage2_head_object_weight > 0 and not (
            config.object_masks and config.dataset == "memory_maze"):
        raise ValueError(f"stage2_head_object_weight={config.stage2_head_object_weight} "
                         "weighs memory-maze's object pixels: set object_masks=true (and "
                         f"dataset=memory_maze; it is {config.dataset})")
    if config.object_masks and config.dataset == "memory_maze" and data_dir and (
            common.holds_episodes(data_dir)):
        # A user's folder of episodes is read as it is (nothing is rendered
        # into it; an empty one is rendered into, masks and all).
        from vq_zoo.data import memory_maze

        for path in memory_maze.episode_files(data_dir):
            if not memory_maze.has_objects(path):
                raise memory_maze.missing_objects_error(path)
    if config.stage2_head_epochs and not config.stage2_map_weight > 0:
        raise ValueError(f"stage2_head_epochs={config.stage2_head_epochs} trains stage 2's "
                         "map head, which needs stage2_map_weight > 0 (it is 0)")
    # A stand-in for stage 1's codebook (only its shape is checked here).
    blank = np.eye(manifest["num_embeddings"], config.embedding_dim, dtype="float32")
    stage2 = build_stage2(config, manifest, blank)
    maps = np.zeros((2,) + shape, "int32")
    stage2.compute_loss_terms(maps, training=False)
    prior = build_stage2_prior(config)
    prior(np.zeros((1, config.stage2_num_latents), "int32"))


# ------------------------------------------------------------------ data
def _frame_limits(config):
    """How many frames of each split a run reads (0: all)."""
    return {"train": config.train_frames, "validation": config.validation_frames,
            "test": config.test_frames}


def memory_maze_frames(config, data_dir=None, verbose=0):
    """uint8 frames of each split, `{"train", "validation", "test"}`, from
    the episodes in `data_dir` (rendered there first when it holds none) or
    in `common.default_episode_dir(config)` (completed to `config.episodes`
    episodes: rendering resumes)."""
    from vq_zoo.data import memory_maze
    from vq_zoo.recipes import common

    directory = common.memory_maze_episodes(config, data_dir, verbose,
                                            objects=config.object_masks)
    frames = {}
    for split, limit in _frame_limits(config).items():
        frames[split] = memory_maze.frames_dataset(
            directory, split, config.validation_fraction, config.test_fraction,
            max_frames=limit or None,
            max_episodes=common.episodes_to_read(config, data_dir))
        if frames[split].shape[1:3] != (config.image_size, config.image_size):
            raise ValueError(
                f"The episodes in {directory} have {frames[split].shape[1:3]} frames, "
                f"the config `image_size`={config.image_size}")
    return frames, directory


def memory_maze_objects(config, directory, data_dir=None):
    """bool object masks of each split, frame for frame those of
    `memory_maze_frames`."""
    from vq_zoo.data import memory_maze
    from vq_zoo.recipes import common

    return {split: memory_maze.objects_dataset(
        directory, split, config.validation_fraction, config.test_fraction,
        max_frames=limit or None, max_episodes=common.episodes_to_read(config, data_dir))
        for split, limit in _frame_limits(config).items()}


def make_data(config, data_dir=None, verbose=0):
    """The run's data: `train` (shuffled float batches), `validation`,
    `splits` (`{split: float batches in a fixed order}`, for the codes),
    `test` (the report's batches), `sample` (16 fixed validation frames),
    `variance` (of the training frames); with `config.object_masks`,
    `objects` (`{split: bool (N, H, W)}`, the test split's in the order of
    `test`) and `object_batches(split, batch_size, shuffle)` (float frames
    with their float masks)."""
    import tensorflow as tf

    from vq_zoo.recipes import common

    def to_float(x):
        return tf.cast(x, tf.float32) / 255.0

    extra = {}
    if config.dataset == "memory_maze":
        frames, directory = memory_maze_frames(config, data_dir, verbose)

        def batches(split, batch_size, shuffle=False):
            return common.in_memory_batches(frames[split], batch_size, shuffle,
                                            config.seed).map(to_float)

        if config.object_masks:
            objects = memory_maze_objects(config, directory, data_dir)

            def object_batches(split, batch_size, shuffle=False):
                # Frames and masks shuffled alike: one dataset of pairs.
                return common.in_memory_batches(
                    (frames[split], objects[split]), batch_size, shuffle, config.seed
                ).map(lambda x, m: (to_float(x), tf.cast(m, tf.float32)))

            extra = dict(objects=objects, object_batches=object_batches)

        variance = float((frames["train"].astype(np.float32) / 255.0).var())
        sample = frames["validation"][::max(1, len(frames["validation"]) // 16)][:16]
    elif config.dataset == "dmlab":
        from vq_zoo.data.dmlab import dmlab_frames

        streams = {s: dmlab_frames(s, config.image_size, data_dir, max_frames=n or None)
                   for s, n in _frame_limits(config).items()}

        def batches(split, batch_size, shuffle=False):
            ds = streams[split]
            if shuffle:
                ds = ds.shuffle(10000, seed=config.seed)
            ds = ds.batch(batch_size, drop_remainder=shuffle).map(to_float)
            return ds.prefetch(tf.data.AUTOTUNE)

        first = np.concatenate([np.asarray(x) for x in batches("train", 256).take(4)])
        variance = float(first.var())
        sample = np.concatenate([np.asarray(x) for x in
                                 streams["validation"].batch(16).take(1)])
    else:
        raise ValueError(f"`dataset` must be memory_maze or dmlab, got {config.dataset!r}")
    splits = {s: batches(s, 128) for s in ("train", "validation", "test")}
    return dict(train=batches("train", config.batch_size, shuffle=True),
                validation=splits["validation"], splits=splits, test=splits["test"],
                sample=np.asarray(sample, np.float32) / 255.0, variance=variance, **extra)


# ---------------------------------------------------------------- models
def stage1_code_vectors(vqvae):
    """float32 `(K, D)`: the vector stage 1's decoder reads for each of its
    codes (the quantizer's `lookup`, which a cosine or projected codebook
    maps out of its stored space), what stage 2's map head regresses."""
    k = vqvae.quantizer.num_embeddings
    return np.asarray(vqvae.quantizer.lookup(np.arange(k, dtype="int32")), "float32")


def build_stage2(config, manifest, codebook=None):
    """The `DMLabVQVAE` over the stage-1 maps described by `manifest`;
    `codebook`: stage 1's `(K, D)` codebook, which the map head regresses
    (needed when `stage2_map_weight` > 0)."""
    import keras

    from vq_zoo.models.dmlab.dmlab_vqvae import DMLabVQVAE

    model = DMLabVQVAE.code_map_model(
        num_embeddings=int(manifest["num_embeddings"]),
        shape=tuple(manifest["code_shape"]), num_latents=config.stage2_num_latents,
        embedding_dim=config.stage2_embedding_dim,
        latent_num_embeddings=config.stage2_num_embeddings,
        filters=config.stage2_filters, hidden_units=config.stage2_hidden_units,
        decoder_filters=config.stage2_decoder_filters,
        decoder_layers=config.stage2_decoder_layers,
        commitment_cost=config.stage2_commitment_cost, ema=config.ema,
        decay=config.decay,
        quantizer_kwargs=dict(dead_code_threshold=config.stage2_dead_code_threshold,
                              seed=config.seed),
        spatial_channels=config.stage2_spatial_channels,
        conditioning_layers=config.stage2_conditioning_layers or None,
        decoder_dropout=config.stage2_decoder_dropout,
        input_noise=config.stage2_input_noise,
        input_noise_source=config.stage2_input_noise_source,
        input_noise_seed=config.seed,
        map_codebook=codebook if config.stage2_map_weight > 0 else None,
        map_weight=config.stage2_map_weight,
        name="stage2_vqvae")
    model.compile(optimizer=keras.optimizers.Adam(config.stage2_learning_rate))
    return model


def build_stage1(config, data_variance, train=None):
    """Stage 1: a new `VQVAE`, or `config.vqvae_preset` loaded (its codebook
    merged into `vqvae_merge_codes` codes by their use on `train`, batches
    of training frames, when that is > 0; compiled with the config's
    learning rate, for `vqvae_epochs` more epochs)."""
    import keras

    from vq_zoo.recipes import common

    size = config.image_size
    common.check_vqvae_epochs(config)
    if not config.vqvae_preset:
        return common.build_vqvae(config, data_variance, (size, size, 3))
    model = common.load_vqvae_preset(config, (size, size, 3))
    if config.vqvae_merge_codes:
        from vq_zoo.models.dmlab.codebook_merge import merge_codebook

        codes = np.concatenate([np.asarray(model.encode(x)) for x in train])
        model, _ = merge_codebook(model, codes, config.vqvae_merge_codes,
                                  (size, size, 3), seed=config.seed)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def prior_callbacks(patience):
    """Early stopping on the validation loss that keeps the best epoch's
    weights (none when `patience` is 0)."""
    import keras

    if not patience:
        return []
    return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                          restore_best_weights=True)]


def build_stage2_prior(config):
    import keras

    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior

    length = config.stage2_num_latents
    rates = tuple(2 ** i for i in range(max(1, math.ceil(math.log2(length)))))
    prior = GatedPixelCNN1DPrior(
        num_embeddings=config.stage2_num_embeddings, length=length,
        filters=config.stage2_prior_filters, dilation_rates=rates, name="stage2_prior")
    prior.compile(optimizer=keras.optimizers.Adam(config.stage2_prior_learning_rate))
    return prior


def stack_levels(levels):
    """A map from a batch dict of the levels to `(batch, num_levels)`."""
    import tensorflow as tf

    return lambda d: tf.stack([d[n] for n in levels], axis=-1)


# -------------------------------------------------------------- pictures
def chain_rows(chain, frames, seed=0, decoding="greedy", num_samples=16):
    """`[frames, stage-1 reconstructions, 27-bit reconstructions (the map
    decoded by `decoding`: "greedy", "sample" or "consensus" of
    `num_samples` draws), 27-bit reconstructions (sampled map)]`, floats."""
    maps = chain.encode_maps(frames)
    codes = np.asarray(chain.code_vqvae.encode_sequence(maps))
    return [np.asarray(frames, np.float32),
            np.asarray(chain.frame_vqvae.decode(maps)),
            chain.decode(codes, seed=seed, decoding=decoding, num_samples=num_samples),
            chain.decode(codes, seed=seed)]


def object_frames(objects, num, min_pixels=30):
    """Indices of up to `num` frames showing an object (at least
    `min_pixels` of its pixels, so that a person sees it in a grid),
    spread evenly over those that do, for `objects.png`."""
    showing = np.flatnonzero(np.asarray(objects).reshape(len(objects), -1).sum(1)
                             >= min_pixels)
    if len(showing) <= num:
        return showing
    return showing[np.linspace(0, len(showing) - 1, num).round().astype(int)]


def chain_grid(chain, frames, columns=8, upscale=1, decoding="greedy", num_samples=16):
    """An image grid of groups of 4 rows: frames | stage-1 reconstructions |
    27-bit reconstructions, map by `decoding` | 27-bit reconstructions,
    sampled map."""
    from vq_zoo.utils.images import image_grid

    rows = chain_rows(chain, frames, decoding=decoding, num_samples=num_samples)
    tiles = []
    for start in range(0, max(1, len(frames) - columns + 1), columns):
        for row in rows:
            tiles.append(np.clip(row[start:start + columns], 0, 1))
    return image_grid(np.concatenate(tiles), columns=min(columns, len(frames)),
                      upscale=upscale)


def stage2_tensorboard(log_dir, frame_vqvae, sample, every_n_epochs=1):
    """Keras' TensorBoard plus, every `every_n_epochs` epochs to
    `log_dir/images`: `reconstructions` (the `chain_grid` of `sample`) and
    `code_usage_<level>` (a histogram of each codebook's codes of
    `sample`)."""
    import tensorflow as tf

    from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
    from vq_zoo.training.summary_tensorboard import SummaryTensorBoard

    class Stage2TensorBoard(SummaryTensorBoard):
        def write_summaries(self, step):
            model = self.model
            chain = DMLabTwoStage(frame_vqvae, model)
            with self.summaries_at(step):
                tf.summary.image(
                    "reconstructions", chain_grid(chain, sample)[None],
                    description="Held-out validation frames in groups of 4 rows: "
                    "frames, stage-1 reconstructions (21x21 codes), 27-bit "
                    "reconstructions (3 codes -> greedy 21x21 map -> frame), "
                    "27-bit reconstructions with a sampled map (temperature 1).")
                maps = frame_vqvae.encode(sample)
                for level, codes in model.encode_levels(maps).items():
                    tf.summary.histogram(f"code_usage_{level}", tf.reshape(codes, [-1]),
                                         buckets=64)

    return Stage2TensorBoard(log_dir, every_n_epochs, run_name="images")


def head_tensorboard(log_dir, frame_vqvae, sample, every_n_epochs=1):
    """Keras' TensorBoard plus, every `every_n_epochs` epochs to
    `log_dir/images`, `reconstructions`: rows of `sample`, their stage-1
    reconstructions and their 27-bit reconstructions by the map head
    being trained (`MapHeadTuner`)."""
    import tensorflow as tf

    from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
    from vq_zoo.training.summary_tensorboard import SummaryTensorBoard
    from vq_zoo.utils.images import image_grid

    class HeadTensorBoard(SummaryTensorBoard):
        def write_summaries(self, step):
            chain = DMLabTwoStage(frame_vqvae, self.model.code_vqvae)
            maps = chain.encode_maps(sample)
            codes = np.asarray(chain.code_vqvae.encode_sequence(maps))
            rows = [sample, np.asarray(frame_vqvae.decode(maps)),
                    np.asarray(chain.decode(codes, decoding="regression"))]
            grid = image_grid(np.clip(np.concatenate(rows), 0, 1), columns=len(sample))
            with self.summaries_at(step):
                tf.summary.image(
                    "reconstructions", grid[None],
                    description="Held-out validation frames, their stage-1 "
                    "reconstructions (21x21 codes) and their 27-bit reconstructions "
                    "by the map head being tuned (3 codes -> the stage-1 codes "
                    "nearest its vectors -> frame).")

    return HeadTensorBoard(log_dir, every_n_epochs, run_name="images")


def cosine_rate(rate, epoch, epochs):
    """The learning rate of 0-based `epoch` of `epochs` falling along half a
    cosine from `rate` (epoch 0) towards 0."""
    return rate * 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, epochs)))


def head_schedule(config):
    """The `stage2_head` callbacks setting its learning rate by
    `stage2_head_lr_decay` (none when "constant"); the rate is a function of
    the epoch alone, so a resumed run continues it."""
    if config.stage2_head_lr_decay == "constant":
        return []
    import keras

    return [keras.callbacks.LearningRateScheduler(
        lambda epoch, _rate: cosine_rate(config.stage2_head_learning_rate, epoch,
                                         config.stage2_head_epochs))]


def train_head(pipe, config, data, vqvae):
    """The `stage2_head` stage: stage 2 (a fresh copy of `stage2_vqvae`)
    trained on the frames through stage 1's decoder (`MapHeadTuner`: its
    map head alone, or all of it by `stage2_head_tune`), the epoch of the
    best validation frame loss kept; returns the tuned stage 2."""

    def build():
        import keras

        from vq_zoo.models.dmlab.map_head_tuner import MapHeadTuner

        tuner = MapHeadTuner(vqvae, pipe.load("stage2_vqvae"),
                             map_weight=config.stage2_head_map_weight,
                             tune=config.stage2_head_tune,
                             object_weight=config.stage2_head_object_weight,
                             name="stage2_head")
        tuner.compile(optimizer=keras.optimizers.Adam(config.stage2_head_learning_rate))
        return tuner

    weighted = config.stage2_head_object_weight > 0
    train, validation = ((data["object_batches"]("train", config.batch_size, True),
                          data["object_batches"]("validation", 128)) if weighted
                         else (data["train"], data["validation"]))
    tuner = pipe.train(
        "stage2_head", build, train, epochs=config.stage2_head_epochs,
        validation_data=validation, inputs=["vqvae", "stage2_vqvae"],
        callbacks=head_schedule(config),
        keep_best="val_weighted_frame_loss" if weighted else "val_frame_loss",
        tensorboard=(lambda d: head_tensorboard(d, vqvae, data["sample"][:8]))
        if config.tensorboard_images else None,
        what=("train stage 2's map head" if config.stage2_head_tune == "head"
              else "train stage 2") + " on the frames, through stage 1's decoder")
    return tuner.code_vqvae


# ---------------------------------------------------------------- report
def _usage(counts):
    p = counts / max(1, counts.sum())
    return (float(np.exp(-(p * np.log(p + 1e-10)).sum())), float((counts > 0).mean()))


def held_out_metrics(chain, prior, stage2_prior, test_batches, map_data, triple_data,
                     train_maps=None, fit_triples=None, decoding="greedy", num_samples=16,
                     test_objects=None):
    """Metrics on the test split (episodes never trained on): stage 1's
    reconstruction MSE / PSNR and code perplexity / usage; stage 2's
    reconstruction of the 21x21 maps given the 3 codes by each decoding
    (the accuracy and the frame PSNR after both stages of the greedy map,
    of a sampled map, of the consensus of `num_samples` sampled maps, and
    the PSNR of the mean of those maps' frames; the accuracy of the
    decoder's per-position argmax given the true preceding codes; its NLL
    in bits per code); `test_stage2_mse`, `test_stage2_psnr_db`,
    `test_stage2_psnr_db_vs_stage1` and `test_stage2_map_accuracy` are
    those of `decoding` ("greedy", "sample" or "consensus", recorded as
    `stage2_decoding`); each codebook's perplexity / usage; both priors'
    bits per code on the test codes (`map_data`, `triple_data`: datasets of
    their inputs). `train_maps` gives the baseline accuracy of predicting
    the most frequent training code everywhere; `fit_triples`
    (`{"train": ..., "validation": ...}`, datasets of code triples) the
    3-code prior's bits per code on the codes it was fit and stopped on,
    measured after training as on the test codes (its overfitting).
    `test_objects` (bool `(N, H, W)`, the object pixels of the test frames
    in `test_batches`' order) adds what each stage keeps of the objects
    (`vq_zoo.metrics.objects`): `test_object_frames` (frames counted),
    `test_objects_kept` / `test_object_psnr_db` after stage 1 and
    `test_stage2_objects_kept` / `test_stage2_object_psnr_db` after both
    stages (the map by `decoding`), and each one's whole-frame PSNR over
    the counted frames (`..._psnr_db_object_frames`) and over the
    `test_empty_frames` showing no object pixel (`..._psnr_db_empty_frames`:
    what keeping the objects costs where there are none)."""
    # Here, not at the top: the registry imports this module before
    # TensorFlow, and vq_zoo.metrics loads Keras.
    from keras import ops

    from vq_zoo.generation.consensus import consensus_codes
    from vq_zoo.metrics import objects as object_metrics
    from vq_zoo.metrics.image_quality import psnr
    from vq_zoo.models.dmlab.dmlab_two_stage import frames_of_draws

    vq1, vq2 = chain.frame_vqvae, chain.code_vqvae
    levels = list(vq2.level_names)
    k1 = vq1.quantizer.num_embeddings
    counts1 = np.zeros(k1, np.int64)
    counts2 = {n: np.zeros(k, np.int64) for n, k in zip(levels, vq2.num_embeddings)}
    sq1 = 0.0
    values = frames_seen = 0
    forced_hits = positions = mode_hits = 0
    regress = getattr(vq2, "map_head", None) is not None
    rules = ("greedy", "sample", "consensus") + (("regression",) if regress else ())
    sq_continuous = 0.0  # the map head's vectors decoded unsnapped
    hits = dict.fromkeys(rules, 0)
    sq = dict.fromkeys(rules + ("frame_mean",), 0.0)
    sq_mid = dict.fromkeys(rules, 0.0)
    object_stats = {"stage1": [], "stage2": []}
    mode = None
    if train_maps is not None:
        mode = int(np.bincount(np.asarray(train_maps).ravel(), minlength=k1).argmax())
    for batch in test_batches:
        x = np.asarray(batch, np.float32)
        maps = np.asarray(vq1.encode(x))
        codes = vq2.encode_levels(maps)
        triples = np.stack([np.asarray(codes[n]) for n in levels], axis=1)
        stage1 = np.asarray(vq1.decode(maps), np.float64)
        samples = np.asarray(vq2.decode_samples(triples, num_samples,
                                                seed=10 ** 6 + frames_seen))
        decoded = {"greedy": np.asarray(vq2.decode(triples, greedy=True)),
                   "sample": np.asarray(vq2.decode(triples, seed=frames_seen)),
                   "consensus": np.asarray(consensus_codes(
                       samples, vq2.decoder.num_embeddings))}
        if regress:
            vectors = vq2.map_vectors(vq2.lookup(triples))
            decoded["regression"] = np.asarray(vq2.nearest_codes(vectors))
            # The head's vectors themselves, not snapped to codes.
            mean_frame = np.asarray(vq1.likelihood.reconstruct(
                vq1.decoder(ops.cast(vectors, vq1.compute_dtype), training=False)),
                np.float64)
            sq_continuous += float(np.sum((mean_frame - x) ** 2))
        masks = (None if test_objects is None
                 else np.asarray(test_objects[frames_seen:frames_seen + len(x)]))
        if masks is not None:
            object_stats["stage1"].append(object_metrics.object_frame_stats(
                x, np.clip(stage1, 0, 1), masks))
        for rule, m in decoded.items():
            two = np.asarray(vq1.decode(m), np.float64)
            if masks is not None and rule == decoding:
                object_stats["stage2"].append(object_metrics.object_frame_stats(
                    x, np.clip(two, 0, 1), masks))
            sq[rule] += float(np.sum((two - x) ** 2))
            sq_mid[rule] += float(np.sum((two - stage1) ** 2))
            hits[rule] += int((m == maps).sum())
        # The mean of the sampled maps' frames: the minimum-Bayes-risk
        # frame for the squared error (blurred where the draws differ).
        # (Decoded 256 maps per call; the mean summed in float64 without a
        # float64 copy of the batch x num_samples frames.)
        mean = frames_of_draws(vq1, samples).mean(1, dtype=np.float64)
        sq["frame_mean"] += float(np.sum((mean - x) ** 2))
        logits = np.asarray(vq2.predict_on_batch(maps))
        sq1 += float(np.sum((stage1 - x) ** 2))
        values += x.size
        frames_seen += len(x)
        forced_hits += int((logits.argmax(-1) == maps).sum())
        if mode is not None:
            mode_hits += int((maps == mode).sum())
        positions += maps.size
        counts1 += np.bincount(maps.ravel(), minlength=k1)
        for n in levels:
            counts2[n] += np.bincount(np.asarray(codes[n]).ravel(), minlength=len(counts2[n]))
    mse1, mse2 = sq1 / values, sq[decoding] / values
    perplexity1, usage1 = _usage(counts1)
    metrics = {
        "test_frames": frames_seen,
        "bits_per_frame_stage2": vq2.bits_per_example,
        "code_shape": list(maps.shape[1:]),
        "test_mse": mse1,
        "test_psnr_db": psnr(mse1),
        "test_perplexity": perplexity1,
        "test_codebook_usage": usage1,
        "stage2_decoding": decoding,
        "stage2_decoding_samples": num_samples,
        "test_stage2_map_accuracy": hits[decoding] / positions,
        "test_stage2_map_accuracy_greedy": hits["greedy"] / positions,
        "test_stage2_map_accuracy_teacher_forced": forced_hits / positions,
        "test_stage2_mse": mse2,
        "test_stage2_psnr_db": psnr(mse2),
        "test_stage2_psnr_db_vs_stage1": psnr(sq_mid[decoding] / values),
        "test_stage2_psnr_db_greedy": psnr(sq["greedy"] / values),
        "test_stage2_map_accuracy_sampled": hits["sample"] / positions,
        "test_stage2_psnr_db_sampled": psnr(sq["sample"] / values),
        "test_stage2_map_accuracy_consensus": hits["consensus"] / positions,
        "test_stage2_psnr_db_consensus": psnr(sq["consensus"] / values),
        "test_stage2_psnr_db_frame_mean": psnr(sq["frame_mean"] / values),
    }
    if regress:
        metrics.update(
            test_stage2_map_accuracy_regression=hits["regression"] / positions,
            test_stage2_psnr_db_regression=psnr(sq["regression"] / values),
            test_stage2_psnr_db_regression_unsnapped=psnr(sq_continuous / values))
    if mode is not None:
        metrics["baseline_map_accuracy_most_frequent_code"] = mode_hits / positions
    if test_objects is not None:
        if len(test_objects) != frames_seen:
            raise ValueError(f"{len(test_objects)} object masks for {frames_seen} test frames")
        for prefix, key in (("test_", "stage1"), ("test_stage2_", "stage2")):
            summary = object_metrics.summarize_objects(
                object_metrics.concatenate_stats(object_stats[key]))
            metrics[prefix + "objects_kept"] = summary["kept"]
            metrics[prefix + "object_psnr_db"] = summary["object_psnr_db"]
            metrics[prefix + "psnr_db_object_frames"] = summary["frame_psnr_db"]
            metrics[prefix + "psnr_db_empty_frames"] = summary["empty_frame_psnr_db"]
        metrics["test_object_frames"] = summary["frames"]  # the same frames for both
        metrics["test_empty_frames"] = summary["empty_frames"]
    for n in levels:
        metrics[f"test_stage2_perplexity_{n}"], metrics[f"test_stage2_codebook_usage_{n}"] = (
            _usage(counts2[n]))
    for model in (vq2, prior, stage2_prior):
        if not getattr(model, "compiled", False):
            model.compile()
    logs2 = vq2.evaluate(map_data, verbose=0, return_dict=True)
    metrics["test_stage2_bits_per_code"] = float(logs2["reconstruction_loss"]) / math.log(2)
    metrics["test_prior_bits_per_code"] = float(
        prior.evaluate(map_data, verbose=0, return_dict=True)["bits_per_code"])
    metrics["test_stage2_prior_bits_per_code"] = float(
        stage2_prior.evaluate(triple_data, verbose=0, return_dict=True)["bits_per_code"])
    for split, data in (fit_triples or {}).items():
        metrics[f"{split}_stage2_prior_bits_per_code"] = float(
            stage2_prior.evaluate(data, verbose=0, return_dict=True)["bits_per_code"])
    return metrics


def _is_fresh(pipe, stage, stages):
    if not pipe.is_done(stage):
        return False
    recorded = pipe.stage_info(stage).get("inputs") or {}
    return all(recorded.get(s) == (pipe.stage_info(s).get("digest") if pipe.is_done(s)
                                   else None) for s in stages)


STAGES = ["vqvae", "codes", "prior", "stage2_vqvae", "stage2_head", "stage2_codes",
          "stage2_prior", "sample", "report"]


# ------------------------------------------------------------------ main
@register_recipe
class DMLabRecipe(Recipe):
    name = "dmlab"
    family = "dmlab"
    summary = ("Paper section 4.2: 84x84 first-person frames to 21x21 codes (K=512) "
               "to 3 codes (27 bits) with a PixelCNN decoder, priors on both "
               "(memory-maze frames rendered offline, or tfds dmlab)")
    configs = CONFIGS
    data = DATA_CARD
    stages = STAGES
    artefacts = ("vqvae.keras", "prior.keras", "stage2_vqvae.keras", "stage2_prior.keras",
                 "samples.png", "reconstructions.png", "metrics.json")
    data_dir_use = staticmethod(data_dir_use)

    def artefact_names(self, config):
        names = list(self.artefacts)
        if config is not None and config.stage2_head_epochs:
            names.insert(names.index("stage2_vqvae.keras") + 1, "stage2_head.keras")
        return names

    def data_card(self, config=None):
        """`DATA_CARD` with the run's frames in words (`data_words`); the
        shipped set's config where `config` is None."""
        return dict(DATA_CARD, data=data_words(config or CONFIGS["small"]))

    def check_config(self, config, data_dir=None):
        check_config(config, data_dir)

    def export(self, run_dir, request):
        """The four presets with one card text (`export_presets.from_run`)."""
        from vq_zoo.recipes.dmlab import export_presets

        return export_presets.export(run_dir, request)

    def run(self, context):
        return run_stages(context)


main = DMLabRecipe().main  # `main(config, out_dir, ...)`, as before


def run_stages(context):
    """Every stage of a DeepMind Lab run in `context`'s pipeline."""
    from vq_zoo.models.dmlab.dmlab_two_stage import DMLabTwoStage
    from vq_zoo.recipes import common
    from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard
    from vq_zoo.utils.io import write_atomic
    from vq_zoo.utils.images import write_png

    config, data_dir, verbose = context.config, context.data_dir, context.verbose
    with context.open_pipeline(STAGES) as pipe:
        data = make_data(config, data_dir, verbose)

        def board(make):
            # Without pictures: Keras' TensorBoard (the scalars) alone.
            return make if config.tensorboard_images else None
        vqvae = pipe.train(
            "vqvae", lambda: build_stage1(config, data["variance"], data["splits"]["train"]),
            data["train"], epochs=config.vqvae_epochs,
            steps_per_epoch=config.vqvae_steps_per_epoch,
            validation_data=data["validation"],
            tensorboard=board(lambda d: VQVAETensorBoard(d, sample=data["sample"])),
            what="train stage 1: frames -> code maps")
        manifests = pipe.extract("codes", vqvae, data["splits"],
                                 what="extract stage 1's code maps")

        def maps(split, batch_size, shuffle=False):
            return pipe.code_data(split, batch_size, keys="codes", shuffle=shuffle,
                                  seed=config.seed)

        holder = {}

        def build_prior():
            holder["prior"] = common.build_prior(config, manifests["train"])
            return holder["prior"]

        prior = pipe.train(
            "prior", build_prior, maps("train", config.prior_batch_size, True),
            epochs=config.prior_epochs, steps_per_epoch=config.prior_steps_per_epoch,
            validation_data=maps("validation", 128), inputs=["codes"],
            tensorboard=board(lambda d: VQVAETensorBoard(
                d, sample=None, num_prior_samples=8, run_name="images",
                sample_fn=lambda n: vqvae.decode(holder["prior"].sample(n, seed=0)))),
            what="train stage 1's prior on the code maps")

        stage2 = pipe.train(
            "stage2_vqvae", lambda: build_stage2(
                config, manifests["train"], stage1_code_vectors(vqvae)),
            maps("train", config.stage2_batch_size, True), epochs=config.stage2_epochs,
            validation_data=maps("validation", 128), inputs=["codes"],
            tensorboard=board(lambda d: stage2_tensorboard(d, vqvae, data["sample"][:8])),
            what="train stage 2: code maps -> "
                 f"{config.stage2_num_latents} codes (PixelCNN decoder)")
        stage2_from = "stage2_vqvae"
        if config.stage2_head_epochs:
            stage2 = train_head(pipe, config, data, vqvae)
            stage2_from = "stage2_head"
        levels = list(stage2.level_names)
        pipe.extract("stage2_codes", stage2,
                     {s: maps(s, 128) for s in ("train", "validation", "test")},
                     inputs=[stage2_from], what="extract stage 2's codes")

        def triples(split, batch_size, shuffle=False):
            return pipe.code_data(split, batch_size, stage="stage2_codes",
                                  keys=tuple(levels), shuffle=shuffle,
                                  seed=config.seed).map(stack_levels(levels))

        def chain_samples(n):
            chain = DMLabTwoStage(vqvae, stage2, holder["stage2_prior"])
            return chain.sample(n, seed=0)[0]

        def build_top():
            holder["stage2_prior"] = build_stage2_prior(config)
            return holder["stage2_prior"]

        stage2_prior = pipe.train(
            "stage2_prior", build_top, triples("train", config.stage2_prior_batch_size, True),
            epochs=config.stage2_prior_epochs, validation_data=triples("validation", 256),
            inputs=["stage2_codes"], callbacks=prior_callbacks(config.stage2_prior_patience),
            tensorboard=board(lambda d: VQVAETensorBoard(
                d, sample=None, num_prior_samples=8, run_name="images",
                sample_fn=chain_samples)),
            what=f"train the prior over stage 2's {config.stage2_num_latents} codes")
        chain = DMLabTwoStage(vqvae, stage2, stage2_prior, prior)

        def draw(num, seed):
            frames, codes, drawn_maps = chain.sample(num, seed=seed)
            return np.clip(frames, 0, 1), {"codes": codes, "maps": drawn_maps}

        sampled_from = ["vqvae", stage2_from, "stage2_prior"]
        if not _is_fresh(pipe, "sample", sampled_from):
            pipe.sample(vqvae, [stage2, stage2_prior], config.num_samples,
                        seed=config.seed, sample_fn=draw, inputs=sampled_from)

        report_inputs = ["vqvae", "codes", "prior", stage2_from, "stage2_codes",
                         "stage2_prior"]
        if pipe.is_done("report") and not _is_fresh(pipe, "report", report_inputs):
            os.remove(pipe.path("stages", "report.json"))

        def report():
            test = np.concatenate([np.asarray(x) for x in data["test"]])
            step = max(1, len(test) // 16)
            write_png(pipe.path("reconstructions.png"),
                      chain_grid(chain, test[::step][:16], decoding=config.stage2_decoding,
                                 num_samples=config.stage2_decoding_samples))
            test_objects = data.get("objects", {}).get("test")
            if test_objects is not None:
                shown = object_frames(test_objects, 16)
                if len(shown):
                    write_png(pipe.path("objects.png"), chain_grid(
                        chain, test[shown], decoding=config.stage2_decoding,
                        num_samples=config.stage2_decoding_samples))
            train_maps = np.concatenate([np.asarray(x) for x in maps("train", 256)])
            metrics = held_out_metrics(chain, prior, stage2_prior, data["test"],
                                       maps("test", 128), triples("test", 256),
                                       train_maps=train_maps,
                                       fit_triples={s: triples(s, 256)
                                                    for s in ("train", "validation")},
                                       decoding=config.stage2_decoding,
                                       num_samples=config.stage2_decoding_samples,
                                       test_objects=test_objects)
            write_atomic(pipe.path("metrics.json"), json.dumps(metrics, indent=2).encode())
            return metrics

        return pipe.stage("report", report, inputs=report_inputs,
                          what="measure on the test split")
