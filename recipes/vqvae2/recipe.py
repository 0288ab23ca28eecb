"""VQ-VAE-2 (Razavi, van den Oord, Vinyals 2019) end to end: a hierarchy
of code maps and one gated PixelCNN prior per level.

    vq-zoo train vqvae2 --config small        # the shipped preset, ~15 min CPU
    vq-zoo train vqvae2 --config paper_imagenet256 --data-dir ~/tensorflow_datasets
    vq-zoo train vqvae2 --config paper_ffhq1024 --data-dir /data/ffhq

Stages (each resumes on its own, in this order):

1. `vqvae`: train the VQ-VAE-2 (`vqvae.keras`).
2. `codes`: encode every split with the quantisers frozen, to one set of
   code shards per split holding every level (`top`, `bottom`; with three
   levels also `middle`).
3. `prior_<level>`, top first: the top prior (gated PixelCNN with causal
   self-attention blocks) on the `top` codes; each lower prior on its
   level's codes conditioned on the codes of the level above
   (`prior_bottom.keras`: `bottom` given `top`).
4. `sample`: top codes from the top prior, then each lower level from its
   prior given the level above; decoded (`samples.png`,
   `sample_codes.npz`).
5. `report`: held-out (test split) metrics, `metrics.json`:
   reconstruction MSE and PSNR from the top level alone
   (`test_mse_top_only`; lower levels replaced by their codebook's mean
   vector) and from all levels (`test_mse`), perplexity and codebook usage
   per level, and each prior's bits per code; `reconstructions.png`:
   groups of three rows, originals | top level only | all levels (with
   three levels: originals | top | top + middle | all).

TensorBoard (`--log-dir`, default `<run>/logs`): every logged scalar; for
the VQ-VAE-2 the per-level reconstruction grid of fixed validation images
and per-level code histograms (`logs/vqvae/images`); for each prior its
decoded samples (`logs/prior_<level>/images`: the top prior's decoded with
the lower levels left out, the lower priors' decoded from all levels
sampled so far).
"""

import json
import math
import os

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.vqvae2.config import CONFIGS
from vq_zoo.recipes.vqvae2.config import data_dir_use

DATA_CARD = dict(
    dataset="photos_64",
    data="64x64 RGB crops (random positions, downscaled by 2 or 4, random flips) "
         "of the photos bundled with scikit-learn and scikit-image and of the "
         "sample photos of OpenCV's documentation (Debian package `opencv-doc`, "
         "fetched by `vq_zoo.data.photos_64.fetch_opencv_photos`), split by "
         "source photo (`vq_zoo.data.photos_64`): test crops come from `flower`, "
         "`coffee` and OpenCV's `baboon`, `butterfly`, `leuven`, `smarties` only; "
         "validation crops from `chelsea`, `rocket`, `apple`, `building`, "
         "`rubberwhale`; training crops from the 21 other photos and scenes.",
    license="scikit-image / scikit-learn photos as for natural_patches_32 "
            "(public domain, CC0, CC BY 2.0; see their docstrings and "
            "scikit-learn's `datasets/images/README.txt`); OpenCV sample data "
            "as distributed in Debian's `opencv-doc` (Apache-2.0 for OpenCV; "
            "the photos' own terms per `/usr/share/doc/opencv-doc/copyright`; "
            "baboon and fruits are from the USC-SIPI image database).",
    limitations=[
        "A tiny CPU model (64x64 crops, 16x16 bottom and 8x8 top codes, K=128, "
        "minutes of training on 2 shared cores) far from the paper's 256x256 "
        "ImageNet / 1024x1024 FFHQ models and their results: the reconstructions "
        "are blurry and the samples are textures, not objects.",
        "The priors are a few gated PixelCNN layers trained for a few hundred "
        "steps; no classifier-based rejection sampling was applied to the "
        "samples shown (see `vq_zoo.models.vqvae2.rejection_sampling`).",
        "About 30 source photos in all: test crops come from 6 photos (7 files), "
        "so the held-out figures say little about other images.",
        "In this small model the decoder leans on the bottom codes: decoded from "
        "the top level alone (the bottom replaced by its codebook's mean vector) "
        "a crop is a nearly flat colour (see the top-only MSE and the middle rows "
        "of the reconstructions), unlike the paper's, whose top level alone keeps "
        "the global structure.",
        "The wall time was measured on 2 CPU cores shared with other jobs (load "
        "average 13-18 during the run), so it overstates the time on an idle "
        "machine.",
    ],
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


# ------------------------------------------------------------------ data
def image_dir_files(data_dir):
    """The sorted PNG/JPEG files under `data_dir`, or a clear error when the
    folder is missing or holds none."""
    if not data_dir:
        raise FileNotFoundError(
            "The image_dir dataset needs --data-dir: a folder of PNG or JPEG images "
            "(e.g. FFHQ's images1024x1024).")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"--data-dir {data_dir} does not exist or is not a folder.")
    files = sorted(
        os.path.join(root, f) for root, _, names in os.walk(data_dir)
        for f in names if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise FileNotFoundError(
            f"--data-dir {data_dir} holds no PNG or JPEG images (searched "
            "recursively).")
    return files


def _image_dir_splits(config, data_dir):
    """Files of each split: test the last `test_examples` (sorted by path),
    validation the `validation_examples` before them, train the rest (at
    most `train_examples`)."""
    files = image_dir_files(data_dir)
    held = config.validation_examples + config.test_examples
    if len(files) <= held:
        raise FileNotFoundError(
            f"--data-dir {data_dir} holds {len(files)} images, not more than the "
            f"{held} held out (validation_examples + test_examples).")
    test = files[len(files) - config.test_examples:]
    valid = files[len(files) - held:len(files) - config.test_examples]
    train = files[:len(files) - held][:config.train_examples or None]
    return {"train": train, "validation": valid, "test": test}


def _file_dataset(files, size, batch_size, training, seed):
    import tensorflow as tf

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                   expand_animations=False)
        image = tf.image.convert_image_dtype(image, tf.float32)
        image = tf.image.resize(image, (size, size), antialias=True)
        if training:
            image = tf.image.random_flip_left_right(image, seed=seed)
        return tf.clip_by_value(image, 0.0, 1.0)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed).repeat()
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def make_data(config, data_dir=None):
    """The run's data, a dict: `train` (batches for the VQ-VAE-2), `steps`
    (its steps per epoch or None), `validation` (batches), `splits`
    (`{split: batches in a fixed order}` to extract codes from), `test`
    (batches of the report's images), `sample` (a few fixed validation
    images for TensorBoard), `variance` (of the training images)."""
    from vq_zoo.recipes import common

    size, seed = config.image_size, config.seed
    if config.dataset == "photos_64":
        from vq_zoo.data.photos_64 import photo_crops

        def crops(split, num, offset):
            return photo_crops(split, num, size, seed=seed + offset,
                               include_opencv=config.include_opencv)

        train = crops("train", config.train_examples, 0)
        if config.hue_rotation:
            from vq_zoo.data.natural_images import rotate_hues

            train = rotate_hues(train, seed=seed + 3)
        valid = crops("validation", config.validation_examples, 2)
        test = crops("test", config.test_examples, 1)

        def batches(x, bs, shuffle=False):
            return common.in_memory_batches(x, bs, shuffle, seed)

        splits = {"train": batches(train, 256), "validation": batches(valid, 256),
                  "test": batches(test, 256)}
        return dict(train=common.in_memory_batches(
                        train, config.batch_size, True, seed,
                        repeat=config.vqvae_steps_per_epoch is not None),
                    steps=config.vqvae_steps_per_epoch,
                    validation=batches(valid, 256), splits=splits,
                    test=splits["test"], sample=valid[:16],
                    variance=float(train.var()))
    if config.dataset == "imagenet2012":
        from vq_zoo.data.imagenet import imagenet_dataset

        def data(split, bs, training):
            return imagenet_dataset("imagenet2012", split, size, bs, data_dir,
                                    training=training, seed=seed).map(lambda x, y: x)

        train = data("train", config.batch_size, True)
        variance = float(np.var(np.concatenate(
            [np.asarray(x) for x in train.take(config.variance_batches)])))
        held = data("validation", 64, False)
        # ImageNet's labelled validation split is the test split here; the
        # first `validation_examples` of it are monitored while training,
        # the next `test_examples` are the report's.
        valid = held.take(max(1, config.validation_examples // 64))
        test = held.skip(max(1, config.validation_examples // 64)).take(
            max(1, config.test_examples // 64))
        extract_train = data("train", 64, False)
        if config.extract_train_batches:
            extract_train = extract_train.take(config.extract_train_batches)
        return dict(train=train, steps=config.vqvae_steps_per_epoch or 1000,
                    validation=valid,
                    splits={"train": extract_train, "validation": valid, "test": test},
                    test=test, sample=np.asarray(next(iter(valid)))[:16],
                    variance=variance)
    if config.dataset == "image_dir":
        files = _image_dir_splits(config, data_dir)
        train = _file_dataset(files["train"], size, config.batch_size, True, seed)
        variance = float(np.var(np.concatenate(
            [np.asarray(x) for x in train.take(config.variance_batches)])))
        fixed = {k: _file_dataset(v, size, 8, False, seed) for k, v in files.items()}
        return dict(train=train, steps=config.vqvae_steps_per_epoch
                    or max(1, len(files["train"]) // config.batch_size),
                    validation=fixed["validation"], splits=fixed, test=fixed["test"],
                    sample=np.asarray(next(iter(fixed["validation"])))[:8],
                    variance=variance)
    raise ValueError(f"`dataset` must be one of photos_64, imagenet2012, image_dir; "
                     f"got {config.dataset!r}")


# ---------------------------------------------------------------- models
def build_vqvae2(config, data_variance, channels=3):
    import keras

    from vq_zoo.models.vqvae2.vqvae2 import VQVAE2

    model = VQVAE2.image_model(
        num_levels=config.num_levels,
        num_hiddens=config.num_hiddens,
        num_residual_layers=config.num_residual_layers,
        num_residual_hiddens=config.num_residual_hiddens,
        embedding_dim=config.embedding_dim,
        num_embeddings=config.num_embeddings,
        channels=channels,
        bottom_downsamples=config.bottom_downsamples,
        commitment_cost=config.commitment_cost,
        ema=config.ema,
        decay=config.decay,
        likelihood="mse",
        data_variance=float(data_variance),
        **_quantizer_arguments(config),
    )
    model.build((None, config.image_size, config.image_size, channels))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def _quantizer_arguments(config):
    """`quantizer_kwargs` of the paper's quantiser exactly as before the
    choice existed, or `quantizer` and its kwargs (`common.quantizer_choice`)."""
    from vq_zoo.recipes import common

    name, kwargs = common.quantizer_choice(config)
    if name is None:
        return dict(quantizer_kwargs=dict(dead_code_threshold=config.dead_code_threshold,
                                          kmeans_init=config.kmeans_init, seed=config.seed))
    return dict(quantizer=name, quantizer_kwargs=kwargs)


def build_level_prior(config, manifest, level, above=None):
    """The prior of `level` from the code manifest: the top prior (`above`
    None) with attention blocks, a lower one conditioned on the codes of the
    level `above`."""
    import keras

    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

    arrays = manifest["arrays"]
    shape = tuple(arrays[level]["shape"])
    classes = arrays[level]["num_embeddings"]
    if above is None:
        prior = GatedPixelCNNPrior(
            num_embeddings=classes, shape=shape, filters=config.top_prior_filters,
            num_layers=config.top_prior_layers,
            attention_every=config.top_prior_attention_every,
            num_heads=config.top_prior_num_heads, dropout=config.top_prior_dropout)
    else:
        prior = GatedPixelCNNPrior(
            num_embeddings=classes, shape=shape, filters=config.prior_filters,
            num_layers=config.prior_layers,
            spatial_condition_shape=tuple(arrays[above]["shape"]),
            spatial_condition_classes=arrays[above]["num_embeddings"],
            conditioning_layers=config.conditioning_layers or None)
    prior.compile(optimizer=keras.optimizers.Adam(config.prior_learning_rate))
    return prior


def prior_keys(levels, index):
    """The `code_dataset` keys of level `levels[index]`'s prior."""
    if index == 0:
        return levels[0]
    return {"codes": levels[index], "spatial_condition": levels[index - 1]}


# -------------------------------------------------------------- pictures
def level_reconstructions(vqvae, images):
    """`[originals, decoded from the top level only, ..., from all levels]`
    of `images` (float arrays)."""
    codes = vqvae.encode_levels(images)
    levels = list(vqvae.level_names)
    rows = [np.asarray(images, np.float32)]
    for k in range(1, len(levels) + 1):
        rows.append(np.asarray(vqvae.decode({n: codes[n] for n in levels[:k]}),
                               np.float32))
    return rows


def level_grid(vqvae, images, columns=8, upscale=1):
    """An image grid of groups of rows: `columns` originals, then their
    decodings from the top level only, ..., from all levels."""
    from vq_zoo.utils.images import image_grid

    rows = level_reconstructions(vqvae, images)
    tiles = []
    for start in range(0, len(images) - columns + 1, columns):
        for row in rows:
            tiles.append(row[start:start + columns])
    if not tiles:  # fewer images than a row
        tiles = rows
    return image_grid(np.concatenate(tiles), columns=min(columns, len(images)),
                      upscale=upscale)


def levels_tensorboard(log_dir, sample, every_n_epochs=1, run_name="images"):
    """A `keras.callbacks.TensorBoard` that also writes, every
    `every_n_epochs` epochs to `log_dir/<run_name>`: `reconstructions`, the
    `level_grid` of the fixed `sample` (originals | top only | ... | all
    levels), and `code_usage_<level>`, a histogram of the codes of `sample`
    per level."""
    import tensorflow as tf

    from vq_zoo.training.summary_tensorboard import SummaryTensorBoard

    class LevelsTensorBoard(SummaryTensorBoard):
        def write_summaries(self, step):
            model = self.model
            with self.summaries_at(step):
                tf.summary.image(
                    "reconstructions", level_grid(model, sample)[None],
                    description="Held-out validation images, in groups of rows: "
                    "originals, decoded from the top level only, ..., decoded "
                    "from all levels.")
                for level, codes in model.encode_levels(sample).items():
                    tf.summary.histogram(f"code_usage_{level}",
                                         tf.reshape(codes, [-1]),
                                         buckets=min(64, int(model.quantizers[
                                             list(model.level_names).index(level)
                                         ].num_embeddings)))

    return LevelsTensorBoard(log_dir, every_n_epochs, run_name=run_name)


# ---------------------------------------------------------------- report
def held_out_metrics(vqvae, priors, test_batches, code_data):
    """Metrics on the test split: reconstruction MSE / PSNR from the top
    level only and from all levels (images in [0, 1]), per-level perplexity
    and codebook usage of the test codes, each prior's bits per code on
    the test codes (`code_data(level) -> dataset of the prior's inputs`)."""
    levels = list(vqvae.level_names)
    sq_top = sq_all = 0.0
    count = num_images = 0
    counts = {n: np.zeros(q.num_embeddings, np.int64)
              for n, q in zip(levels, vqvae.quantizers)}
    for batch in test_batches:
        x = np.asarray(batch, np.float32)
        codes = vqvae.encode_levels(x)
        top_only = np.asarray(vqvae.decode({levels[0]: codes[levels[0]]}), np.float64)
        full = np.asarray(vqvae.decode(codes), np.float64)
        sq_top += float(np.sum((top_only - x) ** 2))
        sq_all += float(np.sum((full - x) ** 2))
        count += x.size
        num_images += len(x)
        for n in levels:
            counts[n] += np.bincount(np.asarray(codes[n]).ravel(),
                                     minlength=len(counts[n]))
    mse_top, mse_all = sq_top / count, sq_all / count
    metrics = {
        "test_mse": mse_all,
        "test_psnr_db": 10 * math.log10(1.0 / mse_all),
        "test_mse_top_only": mse_top,
        "test_psnr_db_top_only": 10 * math.log10(1.0 / mse_top),
        "test_images": num_images,
    }
    for n in levels:
        p = counts[n][counts[n] > 0] / counts[n].sum()
        metrics[f"test_perplexity_{n}"] = float(np.exp(-(p * np.log(p)).sum()))
        metrics[f"test_codebook_usage_{n}"] = float((counts[n] > 0).mean())
    for n, prior in priors.items():
        if not getattr(prior, "compiled", False):
            prior.compile()
        logs = prior.evaluate(code_data(n), verbose=0, return_dict=True)
        metrics[f"test_prior_bits_per_code_{n}"] = float(logs["bits_per_code"])
    for n in levels:
        metrics[f"code_shape_{n}"] = [int(d) for d in codes[n].shape[1:]]
    return metrics


def _current_digests(pipe, stages):
    return {s: pipe.stage_info(s).get("digest") if pipe.is_done(s) else None
            for s in stages}


def _is_fresh(pipe, stage, stages):
    """Whether `stage` is finished and was made from the current versions of
    `stages`."""
    if not pipe.is_done(stage):
        return False
    recorded = pipe.stage_info(stage).get("inputs") or {}
    return all(recorded.get(s) == d for s, d in _current_digests(pipe, stages).items())


# ------------------------------------------------------------------ main
def check_config(config, data_dir=None):
    """Builds the run's models from `config` and runs them on one blank
    batch, without data and before any run dir exists: a config whose
    fields pass their own checks but cannot work together (an image size the
    levels do not divide, too many levels for the image) raises a
    `ValueError` here instead of after minutes of training."""
    del data_dir  # the data are checked when they are made
    size, scale = config.image_size, 2 ** (config.bottom_downsamples + config.num_levels - 1)
    if size % scale:
        raise ValueError(
            f"image_size={size} must be a multiple of 2**(bottom_downsamples + num_levels - 1)"
            f" = {scale} (bottom_downsamples={config.bottom_downsamples}, "
            f"num_levels={config.num_levels})")
    vqvae = build_vqvae2(config, 1.0, channels=3)
    blank = np.zeros((1, size, size, 3), "float32")
    codes = vqvae.encode_levels(blank)
    levels = list(vqvae.level_names)
    manifest = {"arrays": {
        level: {"shape": list(np.shape(codes[level]))[1:], "num_embeddings": q.num_embeddings}
        for level, q in zip(levels, vqvae.quantizers)}}
    import keras

    def symbolic(level):  # shapes only: no forward pass of a large prior
        return keras.KerasTensor((1, *np.shape(codes[level])[1:]), "int32")

    for i, level in enumerate(levels):
        prior = build_level_prior(config, manifest, level, levels[i - 1] if i else None)
        keys = prior_keys(levels, i)
        prior(symbolic(keys) if isinstance(keys, str)
              else {name: symbolic(key) for name, key in keys.items()})


def stage_names(config):
    """The run's stages in order: `vqvae`, `codes`, `prior_<level>` top
    first, `sample`, `report`."""
    from vq_zoo.models.vqvae2.vqvae2 import level_names_for

    levels = list(level_names_for(config.num_levels))
    return ["vqvae", "codes", *[f"prior_{n}" for n in levels], "sample", "report"]


@register_recipe
class VQVAE2Recipe(Recipe):
    name = "vqvae2"
    family = "vqvae2"
    summary = ("VQ-VAE-2 (arXiv:1906.00446): top and bottom code maps, a top "
               "prior with attention and a bottom prior conditioned on the top "
               "codes (64x64 photo crops; ImageNet 256, FFHQ 1024)")
    configs = CONFIGS
    data = DATA_CARD
    data_dir_use = staticmethod(data_dir_use)

    def check_config(self, config, data_dir=None):
        check_config(config, data_dir)

    def stage_names(self, config):
        return stage_names(config)

    def artefact_names(self, config):
        return (["vqvae.keras"] + [f"{s}.keras" for s in stage_names(config)
                                  if s.startswith("prior_")]
                + ["samples.png", "reconstructions.png", "metrics.json"])

    def run(self, context):
        config = context.config
        # Opened first: the run dir is locked, its config checked and the
        # seeds set before any data is made.
        with context.open_pipeline(stage_names(config)) as pipe:
            return train_levels(pipe, config, make_data(config, context.data_dir))


main = VQVAE2Recipe().main  # `main(config, out_dir, ...)`, as before


def train_levels(pipe, config, data):
    """Every stage of the recipe in the open pipeline `pipe` (opened with
    `stage_names(config)`) on `data`, a dict as `make_data` returns (with an
    optional `channels`, default 3): the VQ-VAE-2, the codes, a prior per
    level, samples and the held-out report. Returns the metrics. The images
    recipe (`recipes/images`) runs it on a user's folder."""
    from vq_zoo.models.vqvae2.sampling import sample_levels
    from vq_zoo.models.vqvae2.vqvae2 import level_names_for
    from vq_zoo.training.vqvae_tensorboard import VQVAETensorBoard
    from vq_zoo.utils.io import write_atomic
    from vq_zoo.utils.images import write_png

    levels = list(level_names_for(config.num_levels))
    prior_stages = [f"prior_{n}" for n in levels]
    channels = data.get("channels", 3)
    vqvae = pipe.train(
        "vqvae", lambda: build_vqvae2(config, data["variance"], channels),
        data["train"],
        epochs=config.vqvae_epochs, steps_per_epoch=data["steps"],
        validation_data=data["validation"],
        tensorboard=lambda d: levels_tensorboard(d, data["sample"]),
        what="train the VQ-VAE-2")
    manifests = pipe.extract("codes", vqvae, data["splits"],
                             what="extract the code maps of every level")

    priors = {}
    for i, level in enumerate(levels):
        above = levels[i - 1] if i else None
        made = dict(priors)  # the priors of the levels above, trained

        def sample_fn(num, level=level, made=made, holder=priors):
            drawn = sample_levels({**made, level: holder[level]}, num, seed=0)
            return vqvae.decode(drawn)

        def tensorboard(log, fn=sample_fn):
            return VQVAETensorBoard(log, sample=None, sample_fn=fn,
                                    num_prior_samples=16, run_name="images")

        def build(level=level, above=above):
            priors[level] = build_level_prior(config, manifests["train"],
                                              level, above)
            return priors[level]

        def codes(split, batch_size, shuffle=False, i=i):
            # Training with steps_per_epoch repeats the codes.
            return pipe.code_data(
                split, batch_size, keys=prior_keys(levels, i), shuffle=shuffle,
                seed=config.seed,
                repeat=shuffle and config.prior_steps_per_epoch is not None)

        priors[level] = pipe.train(
            f"prior_{level}", build, codes("train", config.prior_batch_size, True),
            epochs=config.prior_epochs,
            steps_per_epoch=config.prior_steps_per_epoch,
            validation_data=codes("validation", 256), inputs=["codes"],
            tensorboard=tensorboard,
            what=(f"train the {level} prior on the {level} codes"
                  + (f" given the {above} codes" if above else " (with attention)")))

    def draw(num, seed):
        drawn = sample_levels(priors, num, seed)
        return vqvae.decode(drawn), drawn

    # Sampling runs again only when the models it draws from changed.
    if not _is_fresh(pipe, "sample", ["vqvae", *prior_stages]):
        pipe.sample(vqvae, list(priors.values()), config.num_samples,
                    seed=config.seed, sample_fn=draw,
                    inputs=["vqvae", *prior_stages])

    report_inputs = ["vqvae", "codes", *prior_stages]
    if pipe.is_done("report") and not _is_fresh(pipe, "report", report_inputs):
        os.remove(pipe.path("stages", "report.json"))

    def report():
        test_images = np.concatenate([np.asarray(x) for x in data["test"].take(1)])
        write_png(pipe.path("reconstructions.png"),
                  level_grid(vqvae, test_images[:16]))
        metrics = held_out_metrics(
            vqvae, priors, data["test"],
            lambda n: pipe.code_data("test", 256,
                                     keys=prior_keys(levels, levels.index(n))))
        if config.dataset == "photos_64":
            # The same measure on the test crops of the bundled photos
            # alone (no apt needed to check it).
            from vq_zoo.data.photos_64 import photo_crops

            bundled = photo_crops("test", config.test_examples, config.image_size,
                                  seed=config.seed + 1, include_opencv=False)
            recon = np.concatenate([
                np.asarray(vqvae.decode(vqvae.encode_levels(bundled[i:i + 256])))
                for i in range(0, len(bundled), 256)])
            metrics["test_mse_bundled_photos"] = float(
                np.mean((recon.astype(np.float64) - bundled) ** 2))
        write_atomic(pipe.path("metrics.json"),
                     json.dumps(metrics, indent=2).encode())
        return metrics

    return pipe.stage("report", report, inputs=report_inputs,
                      what="measure on the test split")
