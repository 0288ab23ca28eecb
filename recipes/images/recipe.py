"""Your own images, end to end: VQ-VAE, codes, prior, samples, report.

    vq-zoo train images --data-dir MY_IMAGES [--config default|gpu|smoke]
    vq-zoo train images --set dataset=tfds:oxford_flowers102 [--data-dir TFDS_DIR]
    vq-zoo train images --data-dir MY_IMAGES --set model=vqvae2

Data (`vq_zoo.data.image_folder`, `vq_zoo.data.tfds_images`): every PNG,
JPEG, WebP, BMP and GIF (first frame) under `--data-dir`, searched
recursively, any size and mode (grey, colour, palette, 16-bit, alpha onto
white), the central square resized to `image_size`. Two or more first-level
subfolders are classes: the prior is then class-conditional and `vq-zoo
sample RUN --label NAME` draws a class by its folder's name. The split into
train / validation / test is by a hash of each file's relative path
(`validation_fraction`, `test_fraction`) and recorded in `RUN/data.json`
(every file's split and label, what was skipped and why); a resumed run
reads it back, so its split cannot drift. Unreadable files are skipped with
a count and the first names; a folder with no readable image or too few to
split is refused in one line before the run dir is made.

Stages (each resumes on its own), `model=vqvae`: the VQ-VAE
(`vqvae.keras`), the codes of every split (with labels), the gated
PixelCNN prior (`prior.keras`), samples (`samples.png`: with classes one row
per class), the report (`metrics.json`, `reconstructions.png`). With
`model=vqvae2` the stages of `recipes/vqvae2` (two levels by default, one
prior per level). TensorBoard under `RUN/logs`.
"""

import dataclasses
import math
import os

import numpy as np

from vq_zoo.recipe import Recipe
from vq_zoo.recipe import register_recipe
from vq_zoo.recipes.images.config import CONFIGS
from vq_zoo.recipes.images.config import data_dir_use

DATA_RECORD = "data.json"


def describe_data(config):
    """The model card's data section (`vq_zoo.model_card.data_card`), from
    the run's config (the dataclass or its recorded dict)."""
    if isinstance(config, dict):
        known = {f.name for f in dataclasses.fields(type(CONFIGS["default"]))}
        config = dataclasses.replace(CONFIGS["default"],
                                     **{k: v for k, v in config.items() if k in known})
    source = config.dataset if config.dataset.startswith("tfds:") else "image_folder"
    split = (f"split by a hash of each file's relative path into train, "
             f"{config.validation_fraction:.0%} validation and "
             f"{config.test_fraction:.0%} test (each file's split in the run's "
             "data.json)") if source == "image_folder" else (
        "the dataset's own splits, a missing held-out split cut from the end of "
        "train (in the run's data.json)")
    return dict(
        dataset=(config.dataset[5:].replace("/", "_") if source != "image_folder"
                 else "own_images") + f"_{config.image_size}",
        data=(("A folder of the trainer's own images" if source == "image_folder"
               else f"The images of {config.dataset}")
              + f" (`recipes/images`), the central square of each resized to "
              f"{config.image_size}x{config.image_size}; {split}."),
        license="The images' own terms (the trainer's data; see the run's data.json "
                "for its folder or tfds dataset).",
    )


# ------------------------------------------------------------------ data
def open_source(config, data_dir, out_dir, restart=False, verbose=0):
    """The run's images: a `TFDSImages` for `dataset=tfds:...`, else the
    `ImageFolder` of `data_dir`, read back from the run's `data.json` when
    the run has one (a resumed run keeps its split) or scanned."""
    from vq_zoo.data.image_folder import ImageFolder
    from vq_zoo.data.image_folder import ImageFolderError

    if config.dataset.startswith("tfds:"):
        from vq_zoo.data.tfds_images import TFDSImages

        return TFDSImages.open(config.dataset[len("tfds:"):], data_dir,
                               config.validation_fraction, config.test_fraction,
                               channels=config.channels or "auto",
                               download=config.tfds_download)
    if not data_dir:
        raise ImageFolderError(
            "vq-zoo train images needs --data-dir: expected a folder of images "
            "(searched recursively; class subfolders), or --set dataset=tfds:NAME")
    record = os.path.join(out_dir, DATA_RECORD)
    if os.path.exists(record) and not restart:
        return ImageFolder.read(record, data_dir)
    folder = ImageFolder.scan(data_dir, config.validation_fraction,
                              config.test_fraction,
                              channels=config.channels or "auto", verbose=verbose)
    return folder


def record_source(source, path):
    """Writes the run's `data.json`: a folder's whole split (`ImageFolder.
    write`), a tfds dataset's split specs."""
    import json

    from vq_zoo.utils.io import write_atomic

    if hasattr(source, "write"):
        if not os.path.exists(path):
            source.write(path)
        return
    write_atomic(path, (json.dumps(source.summary(), indent=1) + "\n").encode())


def make_data(config, source):
    """The datasets of a run, in the `recipes/vqvae2` `make_data` form:
    `train` (shuffled, repeated batches of images), `steps`, `validation`,
    `splits` (every split in order, with labels when there are classes),
    `test` (images), `sample` (16 validation images), `variance`,
    `channels`, `test_arrays` (`(images, labels or None)`)."""
    seed, size = config.seed, config.image_size
    labels = source.class_names is not None and config.model == "vqvae"

    def batches(split, batch_size=64, with_labels=False, **kwargs):
        return source.dataset(split, size, batch_size, shuffle=False,
                              with_labels=with_labels, **kwargs)

    test_limit = config.test_examples or None
    splits = {s: batches(s, with_labels=labels, limit=test_limit if s == "test" else None)
              for s in ("train", "validation", "test")}
    test = [(b if labels else (b,)) for b in splits["test"].as_numpy_iterator()]
    test_images = np.concatenate([b[0] for b in test])
    test_labels = np.concatenate([b[1] for b in test]) if labels else None
    # A fixed shuffle, so that reconstructions.png shows every class, not
    # the first folder's (the metrics are means: the order does not matter).
    order = np.random.default_rng(seed).permutation(len(test_images))
    test_images = test_images[order]
    test_labels = None if test_labels is None else test_labels[order]
    sample = next(batches("validation", 16).as_numpy_iterator())
    probe = source.dataset("train", size, config.batch_size, shuffle=True, seed=seed,
                           with_labels=False, cache=False)
    variance = float(np.var(np.concatenate(
        list(probe.take(config.variance_batches).as_numpy_iterator()))))
    num_train = source.num_examples("train")
    steps = config.vqvae_steps_per_epoch or (
        max(1, num_train // config.batch_size) if num_train else 1000)
    return dict(
        train=source.dataset("train", size, config.batch_size, shuffle=True,
                             repeat=True, seed=seed, with_labels=False),
        steps=steps, validation=batches("validation", with_labels=False),
        splits=splits, test=batches("test", with_labels=False, limit=test_limit),
        sample=sample, variance=variance, channels=source.channels,
        test_arrays=(test_images, test_labels))


def vqvae2_config(config):
    """The `recipes/vqvae2` config of an images config: every field of the
    same name, `num_downsamples` as the bottom level's."""
    from vq_zoo.recipes.vqvae2.config import VQVAE2Config

    names = {f.name for f in dataclasses.fields(VQVAE2Config)} - {"dataset"}
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
              if f.name in names}
    return VQVAE2Config(**shared, dataset="image_dir", include_opencv=False,
                        bottom_downsamples=config.num_downsamples)


# ------------------------------------------------------------------ main
@register_recipe
class ImagesRecipe(Recipe):
    name = "images"
    family = "vqvae"
    summary = ("Your own images: a folder (--data-dir; class subfolders) or "
               "--set dataset=tfds:NAME to codes, a (class-conditional) prior, "
               "samples and a report; --set model=vqvae2 for two levels")
    configs = CONFIGS
    data_dir_use = staticmethod(data_dir_use)

    def data_card(self, config=None):
        return describe_data(config)

    def family_of(self, config):
        return "vqvae2" if config.model == "vqvae2" else "vqvae"

    def stage_names(self, config):
        if config.model == "vqvae2":
            from vq_zoo.recipes.vqvae2 import recipe as vqvae2

            return vqvae2.stage_names(vqvae2_config(config))
        return super().stage_names(config)

    def artefact_names(self, config):
        if config.model == "vqvae2":
            from vq_zoo.recipes.vqvae2 import recipe as vqvae2

            return vqvae2.VQVAE2Recipe().artefact_names(vqvae2_config(config))
        return super().artefact_names(config)

    def run(self, context):
        from vq_zoo.recipes import common

        config, out_dir, verbose = context.config, context.out_dir, context.verbose
        # The folder is read (and refused, in one line) before any run dir is
        # made; the scan is recorded once the run dir is locked.
        source = open_source(config, context.data_dir, out_dir, context.restart, verbose)
        if config.model == "vqvae2":
            from vq_zoo.recipes.vqvae2 import recipe as vqvae2

            if source.class_names and verbose:
                print(f"note: model=vqvae2 trains unconditional priors; the "
                      f"{len(source.class_names)} classes only label data.json",
                      flush=True)
            with context.open_pipeline(self.stage_names(config)) as pipe:
                record_source(source, pipe.path(DATA_RECORD))
                return vqvae2.train_levels(pipe, vqvae2_config(config),
                                           make_data(config, source))

        with context.open_pipeline() as pipe:
            record_source(source, pipe.path(DATA_RECORD))
            data = make_data(config, source)
            num_classes = source.num_classes
            shape = (config.image_size, config.image_size, source.channels)
            vqvae = pipe.train_vqvae(
                lambda: common.build_vqvae(config, data["variance"], shape),
                data["train"], epochs=config.vqvae_epochs, steps_per_epoch=data["steps"],
                validation_data=data["validation"], sample=data["sample"])
            manifests = pipe.extract_codes(vqvae, data["splits"])
            prior = common.train_prior_stage(pipe, config, vqvae, manifests,
                                             config.prior_steps_per_epoch, num_classes)
            condition, columns = None, 8
            num = config.num_samples
            if num_classes:
                # One row per class (up to 16 classes), else the classes in turn.
                per = max(1, math.ceil(num / num_classes)) if num_classes <= 16 else None
                condition = (np.repeat(np.arange(num_classes, dtype="int32"), per)
                             if per else common.condition_by_class(num_classes)(num))
                columns, num = (per, len(condition)) if per else (8, num)
            pipe.sample(vqvae, prior, num, condition=condition, seed=config.seed,
                        columns=columns)
            test_images, test_labels = data["test_arrays"]
            return common.report(pipe, vqvae, prior, test_images,
                                 pipe.code_data("test", 256), config.num_embeddings,
                                 test_labels=test_labels)


main = ImagesRecipe().main  # `main(config, out_dir, ...)`, as before
