"""DeepMind Lab frames through tensorflow-datasets (`dmlab`, the VTAB
version: 360x480 RGB frames of DeepMind Lab levels, splits `train`
(65,550), `validation` (22,628), `test` (22,735)), resized to 84x84, the
frame size of the paper's DeepMind Lab model (arXiv:1711.00937, section
4.2).

The frames are resized whole (antialiased bilinear, 360x480 -> 84x84: the
4:3 frame is squeezed to a square, nothing is cropped away), as uint8.
A dataset that is not prepared fails at once with what to do (`tfds build
dmlab --data_dir DIR` on a machine with network access) unless
`download=True`.

The offline stand-in with the same kind of first-person frames is
memory-maze, `vq_zoo.data.memory_maze`.

Example:
>>> ds = dmlab_frames("validation", data_dir="~/tensorflow_datasets")
>>> frame = next(iter(ds))            # uint8 (84, 84, 3)
"""

import os

from vq_zoo.utils.checks import check_int

NAME = "dmlab"
SPLITS = ("train", "validation", "test")
NATIVE_SHAPE = (360, 480, 3)


def _check_prepared(data_dir, download):
    import tensorflow_datasets as tfds

    builder = tfds.builder(NAME, data_dir=data_dir)
    if download:
        builder.download_and_prepare()
    return builder


def dmlab_frames(split="train", size=84, data_dir=None, download=False,
                 max_frames=None, shuffle_files=False):
    """A `tf.data.Dataset` of uint8 frames `(size, size, 3)` of one split of
    tfds `dmlab`, in the stored order (the labels, DeepMind Lab's distance
    classes, are dropped).

    Args:
        split: "train", "validation" or "test" (or a tfds slice such as
            "train[:1000]").
        size: int, output height and width. Defaults to 84.
        data_dir: the tfds folder (default `~/tensorflow_datasets`).
        download: prepare the dataset first if needed (network).
        max_frames: int or None, keep the first ones.
        shuffle_files: passed to tfds.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if split.split("[")[0] not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS} (or a slice), got {split!r}")
    check_int("size", size)
    data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
    if download:
        _check_prepared(data_dir, download)
    try:
        ds = tfds.load(NAME, split=split, data_dir=data_dir, download=False,
                       shuffle_files=shuffle_files)
    except (AssertionError, FileNotFoundError) as e:
        raise FileNotFoundError(
            f"tfds {NAME} is not prepared in {data_dir} ({str(e).splitlines()[0]}). "
            f"Prepare it with `tfds build {NAME} --data_dir {data_dir}` on a machine "
            "with network access (about 4 GB), or use the offline memory-maze "
            "frames (`--set dataset=memory_maze`).") from None

    def resize(example):
        image = tf.image.resize(example["image"], (size, size), method="bilinear",
                                antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    ds = ds.map(resize, num_parallel_calls=tf.data.AUTOTUNE)
    if max_frames:
        ds = ds.take(max_frames)
    return ds


__all__ = ["dmlab_frames", "SPLITS"]
