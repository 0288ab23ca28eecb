"""Any tensorflow-datasets dataset with an `image` feature, with the same
interface and image preparation as `vq_zoo.data.image_folder.ImageFolder`.

    source = TFDSImages.open("oxford_flowers102")     # or "NAME/CONFIG"
    train = source.dataset("train", image_size=64, batch_size=32)

Images: the `image` feature, prepared as a folder's images are
(`image_folder.to_channels`, `image_folder.centre_square`: alpha onto
white, central square resized to `image_size`); labels: the `label` feature
when it is a `ClassLabel` (its names are the class names). Splits: the
dataset's own `train`, `validation` (or `valid` / `val` / `dev`) and `test`
when it has them; a missing held-out split is cut from the end of `train`
by tfds's deterministic slicing (`train[:90%]`, `train[90%:]` with
`validation_fraction=0.1`). Nothing is downloaded unless `download=True`:
a dataset that is not prepared in `data_dir` fails at once with the `tfds
build` command to run.
"""

import difflib
import os

import numpy as np

from vq_zoo.data.image_folder import SPLITS
from vq_zoo.data.image_folder import ImageFolderError

VALIDATION_NAMES = ("validation", "valid", "val", "dev")


def _builder(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        base = name.split("/", 1)[0]
        close = difflib.get_close_matches(base, tfds.list_builders(), n=3)
        hint = f" (did you mean {', '.join('tfds:' + c for c in close)}?)" if close else ""
        raise ImageFolderError(
            f"--set dataset=tfds:{name}: tensorflow-datasets has no dataset {base!r}"
            f"{hint}; expected a name from tfds.list_builders() with an image "
            "feature, e.g. tfds:cifar10 or tfds:oxford_flowers102") from None
    except (ValueError, KeyError) as e:  # an unknown config of a known dataset
        raise ImageFolderError(
            f"--set dataset=tfds:{name}: {str(e).strip().splitlines()[0]}") from None


class TFDSImages:
    """A tfds image dataset as train / validation / test splits.

    Args (of `open`):
        name: "NAME" or "NAME/CONFIG".
        data_dir: tfds's data dir (default `~/tensorflow_datasets`).
        validation_fraction, test_fraction: the share of `train` cut off for
            a held-out split the dataset lacks.
        channels: 1, 3 or "auto" (1 when the image feature has 1 channel).
        download: let tfds download and prepare it (needs network).
    """

    def __init__(self, name, builder, split_specs, channels, class_names,
                 validation_fraction, test_fraction, data_dir=None):
        self.name = name
        self.data_dir = data_dir
        self.builder = builder
        self.split_specs = split_specs
        self.channels = channels
        self.class_names = class_names
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction

    @classmethod
    def open(cls, name, data_dir=None, validation_fraction=0.1, test_fraction=0.1,
             channels="auto", download=False):
        import tensorflow_datasets as tfds

        if not name:
            raise ImageFolderError("--set dataset=tfds:: expected tfds:NAME or "
                                   "tfds:NAME/CONFIG")
        data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
        builder = _builder(name, data_dir)
        features = builder.info.features
        keys = list(features.keys()) if hasattr(features, "keys") else []
        if "image" not in keys or not isinstance(features["image"], tfds.features.Image):
            raise ImageFolderError(
                f"--set dataset=tfds:{name}: it has no `image` feature (its features: "
                f"{', '.join(keys) or 'none'}); expected a dataset of images")
        if download and not builder.is_prepared():
            builder.download_and_prepare()
        depth = features["image"].shape[-1]
        if channels == "auto":
            channels = 1 if depth == 1 else 3
        label = features["label"] if "label" in keys else None
        class_names = (tuple(label.names) if isinstance(label, tfds.features.ClassLabel)
                       else None)
        specs = cls._split_specs(list(builder.info.splits.keys()),
                                 validation_fraction, test_fraction)
        return cls(name, builder, specs, int(channels), class_names,
                   validation_fraction, test_fraction, data_dir)

    @staticmethod
    def _split_specs(available, validation_fraction, test_fraction):
        """`{split: tfds split string}`. `available` empty (not prepared, or
        tfds.testing.mock_data): `train` with both held-out splits cut."""
        valid = next((s for s in VALIDATION_NAMES if s in available), None)
        has_test = "test" in available
        cut = []  # (split, fraction) cut from the end of train, last first
        if not has_test:
            cut.append(("test", test_fraction))
        if valid is None:
            cut.append(("validation", validation_fraction))
        specs = {"validation": valid, "test": "test" if has_test else None}
        end = 100.0
        for split, fraction in cut:
            start = end - 100.0 * fraction
            specs[split] = f"train[{_pct(start)}:{_pct(end)}]"
            end = start
        specs["train"] = "train" if end == 100.0 else f"train[:{_pct(end)}]"
        return specs

    @property
    def num_classes(self):
        return None if self.class_names is None else len(self.class_names)

    def num_examples(self, split):
        """The examples in `split`, or None when tfds does not know it."""
        try:
            return int(self.builder.info.splits[self.split_specs[split]].num_examples)
        except (KeyError, ValueError, TypeError, AttributeError):
            return None

    def dataset(self, split="train", image_size=64, batch_size=32, shuffle=None,
                repeat=False, seed=0, with_labels=None, cache=False, limit=None):
        """Batches of `split` as `ImageFolder.dataset` gives them: float32
        images in [0, 1], or `(images, labels)` when the dataset has
        labels; `limit`: its first examples only."""
        import tensorflow as tf

        from vq_zoo.data.image_folder import centre_square
        from vq_zoo.data.image_folder import to_channels

        if split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
        shuffle = (split == "train") if shuffle is None else shuffle
        with_labels = self.class_names is not None if with_labels is None else with_labels
        try:
            ds = self.builder.as_dataset(split=self.split_specs[split],
                                         shuffle_files=False)
        except AssertionError:  # not prepared
            data_dir = self.data_dir
            raise ImageFolderError(
                f"--set dataset=tfds:{self.name}: not prepared in {data_dir}; "
                f"expected it there: run `tfds "
                f"build {self.name} --data_dir {data_dir}` on a machine with network "
                "access (or --data-dir DIR where it is prepared, or --set "
                "tfds_download=true)") from None
        if limit:
            ds = ds.take(limit)
        channels = self.channels

        def prepare(example):
            image = tf.image.convert_image_dtype(example["image"], tf.float32)
            image = to_channels(image, channels)
            image.set_shape([None, None, channels])
            image = centre_square(image, image_size)
            if with_labels:
                return image, tf.cast(example["label"], tf.int32)
            return image

        if cache:
            ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache()
            if shuffle:
                ds = ds.shuffle(10_000, seed=seed)
        else:
            if shuffle:
                ds = ds.shuffle(10_000, seed=seed)
            ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True)
        if repeat:
            ds = ds.repeat()
        if batch_size:
            ds = ds.batch(batch_size, drop_remainder=bool(shuffle))
        return ds.prefetch(tf.data.AUTOTUNE)

    def describe(self):
        counts = ", ".join(f"{s}: {self.split_specs[s]}" for s in SPLITS)
        return (f"tfds:{self.name} ({counts}), "
                + ("grey" if self.channels == 1 else "colour")
                + (f", {len(self.class_names)} classes" if self.class_names else
                   ", no classes"))

    def summary(self):
        return {
            "source": f"tfds:{self.name}",
            "splits": dict(self.split_specs),
            "num_examples": {s: self.num_examples(s) for s in SPLITS},
            "class_names": list(self.class_names) if self.class_names else None,
            "channels": self.channels,
            "validation_fraction": self.validation_fraction,
            "test_fraction": self.test_fraction,
        }


def _pct(value):
    value = float(np.round(value, 6))
    return f"{int(value)}%" if value.is_integer() else f"{value:g}%"


__all__ = ["TFDSImages"]
