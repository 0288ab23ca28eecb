"""A folder of the user's own images as `tf.data` datasets.

`image_folder(directory, image_size, split)` is the one-call form;
`ImageFolder.scan(directory)` reads the folder once and gives every split,
the class names and what was skipped.

What it reads: every `.png`, `.jpg` / `.jpeg`, `.webp`, `.bmp` and `.gif`
(first frame) under `directory`, searched recursively (hidden files and
folders left out), whatever their size and mode: grey, colour, palette,
16-bit, with or without alpha (alpha is composited onto white). Each image's
central square is resized (antialiased bilinear) to `image_size` x
`image_size`: "resize + centre-crop", images smaller than that are upscaled.
Images are float32 in [0, 1], `channels` 1 or 3 ("auto": 1 when every image
is grey, else 3).

Classes: when the images lie in two or more first-level subfolders, each
subfolder is a class (labels 0.. in sorted name order) and images directly in
`directory` are skipped; otherwise there are no labels.

Split: each file goes to `test` when a hash of its relative path (sha256,
as a number in [0, 1)) is below `test_fraction`, to `validation` when it is
below `test_fraction + validation_fraction`, else to `train`. The split of a
file never changes when other files are added or removed, and is the same on
every machine.

Skipped, with a count and the first few names (`ImageFolder.skipped`,
printed by `scan`): files that cannot be decoded (truncated, corrupt, empty,
or another format under an image extension) and, with classes, images outside
the class folders. Errors (`ImageFolderError`, one line naming the folder and
what was expected): a missing folder, no image files, no readable image, and
a folder too small to give every split at least one image.
"""

import dataclasses
import hashlib
import json
import os
from typing import Optional

import numpy as np

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
SPLITS = ("train", "validation", "test")
# Transparent pixels are composited onto this grey level (white).
BACKGROUND = 1.0
# How many skipped names a message shows.
SHOWN = 5


class ImageFolderError(OSError, ValueError):
    """The folder cannot give a dataset: the message (one line) names the
    folder and what was expected. An `OSError` (the CLI reports it in one
    line and removes a run dir it created) and a `ValueError`."""


def split_of(relative_path, validation_fraction=0.1, test_fraction=0.1):
    """The split ("train", "validation" or "test") of a file, from the
    sha256 of its relative path (with `/` separators) read as a number in
    [0, 1)."""
    key = relative_path.replace(os.sep, "/").encode("utf-8")
    u = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2.0 ** 64
    if u < test_fraction:
        return "test"
    if u < test_fraction + validation_fraction:
        return "validation"
    return "train"


def _names(paths, total=None):
    total = len(paths) if total is None else total
    shown = ", ".join(paths[:SHOWN])
    return shown + (f", ... ({total - SHOWN} more)" if total > SHOWN else "")


def _find_files(directory):
    """Relative paths (sorted) of the image files under `directory`, and the
    number of other files seen."""
    found, others = [], 0
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            if name.lower().endswith(EXTENSIONS):
                found.append(os.path.relpath(os.path.join(root, name), directory))
            else:
                others += 1
    return sorted(p.replace(os.sep, "/") for p in found), others


# ------------------------------------------------------------- decoding
def _pil_decode(data):
    """Float32 `(h, w, c)` (c: 1 grey, 2 grey + alpha, 3, 4 RGBA) of an
    image Pillow reads: the path for BMP, whose palette and 32-bit files
    TensorFlow's decoder reads wrongly."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(bytes(data))) as image:
        image.seek(0)
        mode = image.mode
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode in ("1", "L", "I;16", "I;16B", "I;16L", "I", "F"):
            if mode in ("1", "L"):
                array = np.asarray(image.convert("L"), np.float32) / 255.0
            else:
                raw = np.asarray(image, np.float64)
                array = (raw / (65535.0 if mode.startswith("I") else 1.0)).astype(np.float32)
            return np.clip(array, 0.0, 1.0)[..., None]
        elif mode not in ("LA", "RGB", "RGBA"):
            image = image.convert("RGB")
        return np.asarray(image, np.float32) / 255.0


def decode_image(data, min_size=None):
    """Graph-mode decoding of the bytes of one image file to float32
    `(h, w, c)` in [0, 1], `c` as stored (1 grey, 2 grey + alpha, 3 RGB, 4
    RGBA): PNG at 8 or 16 bits (palettes expanded), JPEG, GIF (first frame)
    and WebP by TensorFlow, BMP by Pillow. Raises (in the dataset) for a
    file it cannot decode.

    `min_size`: a JPEG whose central square (`centre_square`'s) falls on
    8x8-block boundaries at 1/8, 1/4 or 1/2 scale, and keeps a side >=
    `min_size` there, is decoded at that scale in libjpeg's DCT domain (an
    antialiased reduction, several times faster: `bench/input_pipeline.py`)
    and only that square is returned; other JPEGs decode in full."""
    import tensorflow as tf

    def jpeg(ratio=1):
        return lambda: tf.cast(tf.io.decode_jpeg(data, ratio=ratio),
                               tf.float32) / 255.0

    def jpeg_scaled():
        shape = tf.image.extract_jpeg_shape(data)
        side = tf.minimum(shape[0], shape[1])
        top, left = (shape[0] - side) // 2, (shape[1] - side) // 2

        def square(r):
            def decode():
                t, x, s = top // r, left // r, side // r
                return jpeg(r)()[t:t + s, x:x + s]
            return decode

        def aligned(r):  # the square maps onto whole pixels at 1/r scale
            return ((top % r == 0) & (left % r == 0) & (side % r == 0)
                    & (side // r >= min_size))

        return tf.case([(aligned(r), square(r)) for r in (8, 4, 2)], default=jpeg())

    def png():
        return tf.cast(tf.io.decode_png(data, channels=0, dtype=tf.uint16),
                       tf.float32) / 65535.0

    def bmp():
        image = tf.numpy_function(_pil_decode, [data], tf.float32, stateful=False)
        image.set_shape([None, None, None])
        return image

    def other():  # JPEG, GIF (first frame), WebP
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8,
                                   expand_animations=False)
        return tf.cast(image, tf.float32) / 255.0

    head = tf.strings.substr(data, 0, 4)
    cases = [(tf.equal(head, b"\x89PNG"), png),
             (tf.equal(tf.strings.substr(data, 0, 2), b"BM"), bmp)]
    if min_size:
        cases.append((tf.equal(tf.strings.substr(data, 0, 3), b"\xff\xd8\xff"),
                      jpeg_scaled))
    image = tf.case(cases, default=other)
    image.set_shape([None, None, None])
    return image


def to_channels(image, channels):
    """`(h, w, c)` floats with c in 1..4 (grey, grey + alpha, RGB, RGBA) to
    `channels` (1 or 3): alpha composited onto white (`BACKGROUND`), grey
    repeated to RGB, RGB to grey by ITU-R 601 luma (a grey image stays
    exactly itself)."""
    import tensorflow as tf

    static = image.shape[-1]
    if static is not None:  # known when the graph is built (tfds features)
        if static in (2, 4):
            colour, alpha = image[..., :static - 1], image[..., static - 1:]
            image = colour * alpha + BACKGROUND * (1.0 - alpha)
        if static <= 2:
            return image if channels == 1 else tf.tile(image, [1, 1, 3])
        return image if channels == 3 else tf.image.rgb_to_grayscale(image)
    c = tf.shape(image)[-1]
    colour = image[..., :tf.where(c >= 3, 3, 1)]
    alpha = tf.cond(tf.equal(c % 2, 0), lambda: image[..., -1:],
                    lambda: tf.ones_like(image[..., :1]))
    colour = colour * alpha + BACKGROUND * (1.0 - alpha)
    is_grey = c < 3
    if channels == 1:
        luma = tf.constant([0.2989, 0.5870, 0.1140], image.dtype)
        return tf.cond(is_grey, lambda: colour[..., :1],
                       lambda: tf.reduce_sum(colour * luma, -1, keepdims=True))
    return tf.cond(is_grey, lambda: tf.tile(colour[..., :1], [1, 1, 3]),
                   lambda: colour[..., :3])


def centre_square(image, image_size):
    """The central square of `(h, w, c)` `image`, resized (antialiased
    bilinear) to `image_size` x `image_size` (left as is when it already has
    that size), clipped to [0, 1]."""
    import tensorflow as tf

    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    side = tf.minimum(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    square = tf.cond(
        tf.equal(side, image_size), lambda: square,
        lambda: tf.image.resize(square, (image_size, image_size), antialias=True))
    square = tf.ensure_shape(square, (image_size, image_size, image.shape[-1]))
    return tf.clip_by_value(square, 0.0, 1.0)


def load_image(path, image_size, channels):
    """A file path (string tensor) to float32 `(image_size, image_size,
    channels)` in [0, 1]: `decode_image`, `to_channels`, `centre_square`."""
    import tensorflow as tf

    image = to_channels(decode_image(tf.io.read_file(path), image_size), channels)
    image.set_shape([None, None, channels])
    return centre_square(image, image_size)


def _describe_readable(paths):
    """`(readable indices, {index: (h, w, c)})` of `paths`: each file is
    decoded in full (in parallel); one that fails is left out."""
    import tensorflow as tf

    def describe(index, path):
        # A JPEG decoded at 1/8 scale is checked whole (every coefficient
        # is read) in a fraction of the time; its channels are the same.
        return index, tf.shape(decode_image(tf.io.read_file(path), min_size=1))

    ds = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(paths), dtype=np.int64), list(paths)))
    ds = ds.map(describe, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors(log_warning=False).batch(1024)
    shapes = {}
    for index, shape in ds.as_numpy_iterator():
        shapes.update(zip(index.tolist(), map(tuple, shape.tolist())))
    return shapes


def _make_dataset(elements, image_size, channels, batch_size, shuffle, repeat,
                  seed, cache):
    """Batches of `load_image` over `elements` (a list of paths, or a tuple
    `(paths, labels)`): shuffled (seeded) and repeated for training, in
    order otherwise. `cache`: keep the decoded images in memory after the
    first pass (later epochs decode nothing)."""
    import tensorflow as tf

    paths = elements[0] if isinstance(elements, tuple) else elements
    ds = tf.data.Dataset.from_tensor_slices(elements)

    def load(path, *label):
        image = load_image(path, image_size, channels)
        return (image, tf.cast(label[0], tf.int32)) if label else image

    if shuffle and not cache:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if batch_size:
        ds = ds.batch(batch_size, drop_remainder=bool(shuffle))
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------- folder
@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """A scanned folder of images (`ImageFolder.scan`): its readable files,
    their labels and splits, and what was skipped.

    Attributes:
        directory: the folder.
        files: the readable images' paths relative to `directory` (`/`
            separators), sorted.
        splits: the split of each file (`split_of`).
        labels: the class index of each file, or None without classes.
        class_names: the class folders' names (index order), or None.
        channels: 1 or 3, the channels of the images it gives.
        skipped: `{reason: [relative paths]}` of the files left out.
        other_files: how many files were not images (by extension).
        validation_fraction, test_fraction: the split's fractions.

    Example:

    ```python
    folder = ImageFolder.scan("my_photos")
    train = folder.dataset("train", image_size=64, batch_size=32)
    vqvae.fit(train, epochs=10)
    ```
    """

    directory: str
    files: tuple
    splits: tuple
    labels: Optional[tuple]
    class_names: Optional[tuple]
    channels: int
    skipped: dict
    other_files: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    @classmethod
    def scan(cls, directory, validation_fraction=0.1, test_fraction=0.1,
             channels="auto", classes="auto", verbose=0, require_splits=True):
        """Reads the folder once: finds the image files, decodes each to
        check it (in parallel; bench/RESULTS.md gives the files per second),
        assigns labels and splits.

        Args:
            directory: the folder (searched recursively).
            validation_fraction, test_fraction: fractions of the files that
                go to each held-out split (by hash: `split_of`).
            channels: 1, 3 or "auto" (1 when every image is grey).
            classes: "auto" (first-level subfolders when there are two or
                more) or False (no labels).
            verbose: 1 prints what was found and skipped.
            require_splits: refuse a folder that leaves a split empty
                (False: any number of images, e.g. to encode them all).

        Raises:
            ImageFolderError: no folder, no image files, none readable, or
                too few to give every split an image.
        """
        directory = os.fspath(directory)
        what = ("a folder of images (.png, .jpg, .jpeg, .webp, .bmp, .gif; "
                "searched recursively)")
        if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or (
                validation_fraction + test_fraction >= 1):
            raise ValueError(
                f"validation_fraction={validation_fraction}, test_fraction="
                f"{test_fraction}: expected each in (0, 1) and their sum below 1")
        if channels not in ("auto", 1, 3):
            raise ValueError(f"channels={channels!r}: expected 1, 3 or 'auto'")
        if not os.path.isdir(directory):
            raise ImageFolderError(f"{directory} is not a folder: expected {what}")
        files, others = _find_files(directory)
        if not files:
            raise ImageFolderError(
                f"{directory} holds no image files"
                + (f" ({others} files of other types)" if others else "")
                + f": expected {what}")
        skipped = {}
        top = [f.split("/", 1)[0] for f in files]
        folders = sorted({t for f, t in zip(files, top) if "/" in f})
        class_names = None
        if classes == "auto" and len(folders) >= 2:
            class_names = tuple(folders)
            outside = [f for f in files if "/" not in f]
            if outside:
                skipped["outside the class folders"] = outside
                files = [f for f in files if "/" in f]
        shapes = _describe_readable([os.path.join(directory, f) for f in files])
        unreadable = [f for i, f in enumerate(files) if i not in shapes]
        if unreadable:
            skipped["unreadable (truncated, corrupt or not an image)"] = unreadable
        readable = [i for i in range(len(files)) if i in shapes]
        if not readable:
            raise ImageFolderError(
                f"{directory}: none of its {len(files)} image files could be read "
                f"({_names(unreadable)}): expected PNG, JPEG, WebP, BMP or GIF images")
        kept = [files[i] for i in readable]
        if channels == "auto":
            channels = 1 if all(shapes[i][2] <= 2 for i in readable) else 3
        splits = tuple(split_of(f, validation_fraction, test_fraction) for f in kept)
        counts = {s: splits.count(s) for s in SPLITS}
        empty = [s for s in SPLITS if counts[s] == 0]
        if empty and require_splits:
            raise ImageFolderError(
                f"{directory}: its {len(kept)} readable images give "
                + ", ".join(f"{counts[s]} {s}" for s in SPLITS)
                + f" images (split by a hash of each path, validation_fraction="
                f"{validation_fraction}, test_fraction={test_fraction}): expected at "
                f"least one in every split; add images (about "
                f"{int(np.ceil(3 / min(validation_fraction, test_fraction)))} or "
                "more) or raise the fractions")
        labels = None
        if class_names is not None:
            index = {name: i for i, name in enumerate(class_names)}
            labels = tuple(index[f.split("/", 1)[0]] for f in kept)
        folder = cls(directory=directory, files=tuple(kept), splits=splits,
                     labels=labels, class_names=class_names, channels=int(channels),
                     skipped=skipped, other_files=others,
                     validation_fraction=validation_fraction,
                     test_fraction=test_fraction)
        if verbose:
            print(folder.describe(), flush=True)
        return folder

    # ------------------------------------------------------------ splits
    def split_files(self, split=None):
        """`(absolute paths, labels or None)` of `split` (None: every file),
        in sorted path order."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
        keep = [i for i, s in enumerate(self.splits) if split is None or s == split]
        paths = [os.path.join(self.directory, self.files[i]) for i in keep]
        labels = None if self.labels is None else [self.labels[i] for i in keep]
        return paths, labels

    def num_examples(self, split=None):
        return len(self.split_files(split)[0])

    @property
    def num_classes(self):
        return None if self.class_names is None else len(self.class_names)

    def dataset(self, split="train", image_size=64, batch_size=32, shuffle=None,
                repeat=False, seed=0, with_labels=None, cache=None, limit=None):
        """A `tf.data.Dataset` of `split` (None: every file).

        Args:
            split: "train", "validation", "test" or None.
            image_size: side of the square images it gives.
            batch_size: images per batch (None: unbatched). Shuffled
                training batches drop the remainder.
            shuffle: default: True for "train" (seeded by `seed`, reshuffled
                each epoch); else in sorted path order.
            repeat: repeat forever (for `fit(steps_per_epoch=...)`).
            with_labels: default: when the folder has classes; the dataset
                then gives `(images, labels)` (int32).
            cache: keep decoded images in memory after the first pass;
                default: when they take at most 1 GiB.
            limit: at most this many images (the first in path order).

        Returns:
            float32 images `(batch, image_size, image_size, channels)` in
            [0, 1], or `(images, labels)`.
        """
        paths, labels = self.split_files(split)
        if limit:
            paths, labels = paths[:limit], None if labels is None else labels[:limit]
        shuffle = (split == "train") if shuffle is None else shuffle
        with_labels = labels is not None if with_labels is None else with_labels
        if with_labels and labels is None:
            raise ValueError(f"{self.directory} has no class folders: "
                             "with_labels=True needs two or more first-level subfolders")
        if cache is None:
            cache = len(paths) * image_size * image_size * self.channels * 4 <= 1 << 30
        elements = (paths, np.asarray(labels, np.int32)) if with_labels else paths
        return _make_dataset(elements, image_size, self.channels, batch_size,
                             shuffle, repeat, seed, cache)

    # ----------------------------------------------------------- records
    def describe(self):
        """What was found and skipped, in a few lines."""
        counts = ", ".join(f"{self.num_examples(s)} {s}" for s in SPLITS)
        lines = [f"{self.directory}: {len(self.files)} images ({counts}), "
                 + ("grey" if self.channels == 1 else "colour")
                 + (f", {len(self.class_names)} classes: "
                    + _names(list(self.class_names)) if self.class_names else
                    ", no classes")]
        for reason, paths in self.skipped.items():
            lines.append(f"  skipped {len(paths)} {reason}: {_names(paths)}")
        if self.other_files:
            lines.append(f"  ignored {self.other_files} files of other types")
        return "\n".join(lines)

    def summary(self):
        """A small JSON-able dict: counts, classes, skipped (counts and the
        first names), the split rule and a digest of the file list."""
        digest = hashlib.sha256("\n".join(
            f"{s}\t{'' if self.labels is None else self.labels[i]}\t{f}"
            for i, (f, s) in enumerate(zip(self.files, self.splits))).encode())
        return {
            "source": "folder",
            "directory": os.path.abspath(self.directory),
            "num_examples": {s: self.num_examples(s) for s in SPLITS},
            "class_names": list(self.class_names) if self.class_names else None,
            "channels": self.channels,
            "skipped": {r: {"count": len(p), "first": p[:SHOWN]}
                        for r, p in self.skipped.items()},
            "other_files": self.other_files,
            "split_rule": "sha256 of the relative path as a number u in [0, 1): "
                          "test if u < test_fraction, validation if u < "
                          "test_fraction + validation_fraction, else train",
            "validation_fraction": self.validation_fraction,
            "test_fraction": self.test_fraction,
            "files_sha256": digest.hexdigest(),
        }

    def write(self, path):
        """Records the scan (every file's split and label) in the JSON file
        `path`, atomically."""
        from vq_zoo.utils.io import write_atomic

        record = dict(self.summary(), files=list(self.files), splits=list(self.splits),
                      labels=None if self.labels is None else list(self.labels),
                      skipped_files=self.skipped)
        write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())

    @classmethod
    def read(cls, path, directory=None):
        """The scan recorded at `path` (`write`), for `directory` (default:
        the recorded one); refuses another folder, or one whose recorded
        files are gone."""
        with open(path) as f:
            record = json.load(f)
        recorded = record["directory"]
        directory = recorded if directory is None else os.fspath(directory)
        if os.path.abspath(directory) != recorded:
            raise ImageFolderError(
                f"{path} records the images of {recorded}, not {directory}: "
                "expected the same --data-dir as when the run began (or --restart)")
        missing = [f for f in record["files"]
                   if not os.path.exists(os.path.join(directory, f))]
        if missing:
            raise ImageFolderError(
                f"{directory}: {len(missing)} images of the run's recorded split are "
                f"gone ({_names(missing)}): expected the folder as when the run "
                "began (or --restart to scan it again)")
        labels = record.get("labels")
        names = record.get("class_names")
        return cls(directory=directory, files=tuple(record["files"]),
                   splits=tuple(record["splits"]),
                   labels=None if labels is None else tuple(labels),
                   class_names=None if names is None else tuple(names),
                   channels=int(record["channels"]),
                   skipped={k: list(v) for k, v in record["skipped_files"].items()},
                   other_files=int(record.get("other_files", 0)),
                   validation_fraction=record["validation_fraction"],
                   test_fraction=record["test_fraction"])


def image_folder(directory, image_size=64, split="train", batch_size=32,
                 shuffle=None, repeat=False, seed=0, with_labels=None,
                 channels="auto", validation_fraction=0.1, test_fraction=0.1,
                 cache=None, verbose=0):
    """A `tf.data.Dataset` of one split of a folder of images, ready for
    `fit`: `ImageFolder.scan(directory, ...).dataset(split, ...)` (see
    both for the arguments).

    Returns:
        Batches of float32 images `(batch, image_size, image_size,
        channels)` in [0, 1], or `(images, labels)` when the folder has class
        subfolders.

    Example:

    ```python
    import vq_zoo

    train = vq_zoo.data.image_folder("my_photos", image_size=64, split="train")
    model = vq_zoo.VQVAE.image_model(channels=3, data_variance=0.06)
    model.compile(optimizer="adam")
    model.fit(train, epochs=5)
    ```
    """
    folder = ImageFolder.scan(directory, validation_fraction, test_fraction,
                              channels=channels, verbose=verbose,
                              require_splits=split is not None)
    return folder.dataset(split, image_size, batch_size, shuffle=shuffle,
                          repeat=repeat, seed=seed, with_labels=with_labels,
                          cache=cache)


# --------------------------------------------------------------- labels
def recorded_class_names(run_dir=None, metadata=None):
    """The class names of a run of `recipes/images` (its `data.json`) or of
    a preset exported from one (`class_names` in its metadata), or None."""
    names = (metadata or {}).get("class_names")
    if names is None and run_dir is not None:
        path = os.path.join(run_dir, "data.json")
        if os.path.isfile(path):
            with open(path) as f:
                names = json.load(f).get("class_names")
    return list(names) if names else None


def label_index(label, class_names, num_classes=None):
    """The class index of `label`: an int (or a string of digits) as is, a
    name by its position in `class_names`; a ValueError naming the classes
    when there is no such name."""
    if isinstance(label, (int, np.integer)):
        return int(label)
    text = str(label)
    if text.lstrip("-").isdigit():
        return int(text)
    if class_names and text in class_names:
        return list(class_names).index(text)
    if class_names:
        raise ValueError(f"--label {text}: this prior's classes are "
                         f"{', '.join(class_names)} (or their indices 0.."
                         f"{len(class_names) - 1})")
    raise ValueError(f"--label {text}: this model records no class names: give the "
                     "class index" + (f" (0..{num_classes - 1})" if num_classes else ""))


__all__ = ["ImageFolder", "ImageFolderError", "image_folder", "split_of",
           "recorded_class_names", "label_index",
           "load_image", "decode_image", "to_channels", "centre_square"]
