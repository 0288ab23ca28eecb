"""Video clips with their actions for the latent video model
(arXiv:1711.00937, section 4.4): three sources, one format.

Every loader returns a `tf.data.Dataset` of clips, each a dict with
`frames` uint8 `(clip_length, H, W, C)` and, for a source with actions,
`actions` (`actions[t]` is taken at `frames[t]`, so `frames[t + 1]` shows
its effect): int32 `(clip_length,)` for discrete actions, float32
`(clip_length, action_dim)` for continuous ones. Clips are cut from each
sequence every `clip_stride` frames (`clip_stride = clip_length`: no
overlap), in a fixed order.

- `memory_maze_clips`: first-person episodes of memory-maze with their 6
  discrete actions, rendered offline by the shared generator
  `vq_zoo.data.memory_maze` (split by episode);
- `bair_clips`: tfds `bair_robot_pushing_small` (64x64 RGB, 30 frames per
  video, continuous 4-d actions; splits `train`, `test`), the main camera;
- `moving_mnist_clips`: no actions; training (and validation) sequences
  made from MNIST digits (`vq_zoo.data.mnist`, offline) with
  `tfds.video.moving_sequence.image_as_moving_sequence`, two digits per
  sequence combined by a maximum as in the tfds dataset, starts and
  velocities drawn from `seed` (reproducible); the test split is tfds
  `moving_mnist` (Srivastava et al.'s 10,000 fixed sequences of 20 frames,
  64x64x1) unless `test_source="generated"`.

A tfds dataset that is not prepared fails at once with what to do.

Example:
>>> clips = memory_maze_clips("~/.cache/vq_zoo/memory_maze/9x9_64px_100steps_seed0",
...                           "train", clip_length=16, clip_stride=14)
>>> clip = next(iter(clips))      # frames uint8 (16, 64, 64, 3), actions int32 (16,)
"""

import os

import numpy as np

from vq_zoo.utils.checks import check_choice
from vq_zoo.utils.checks import check_int

SOURCES = ("memory_maze", "bair", "moving_mnist")
BAIR = "bair_robot_pushing_small"
MOVING_MNIST = "moving_mnist"
SPLITS = ("train", "validation", "test")


def _check_clip_args(clip_length, clip_stride):
    check_int("clip_length", clip_length)
    check_int("clip_stride", clip_stride)


def clip_starts(length, clip_length, clip_stride):
    """The first frames of the clips cut from a sequence of `length`."""
    _check_clip_args(clip_length, clip_stride)
    return list(range(0, length - clip_length + 1, clip_stride))


def cut_clips(frames, actions, clip_length, clip_stride):
    """NumPy clips of one sequence: `frames (T, ...)`, `actions (T, ...)`
    or None -> `(frames (n, clip_length, ...), actions (n, clip_length,
    ...) or None)`."""
    starts = clip_starts(len(frames), clip_length, clip_stride)
    clips = np.stack([frames[s:s + clip_length] for s in starts]) if starts else (
        np.zeros((0, clip_length) + frames.shape[1:], frames.dtype))
    if actions is None:
        return clips, None
    acts = np.stack([actions[s:s + clip_length] for s in starts]) if starts else (
        np.zeros((0, clip_length) + actions.shape[1:], actions.dtype))
    return clips, acts


def _window(ds, clip_length, clip_stride, length):
    """Clips of `clip_length` every `clip_stride` frames of each sequence
    (all of one `length`) of a dataset of sequence dicts."""
    import tensorflow as tf

    starts = clip_starts(length, clip_length, clip_stride)
    if not starts:
        raise ValueError(
            f"Sequences of {length} frames hold no clip of clip_length={clip_length}")

    def cut(example):
        return tf.data.Dataset.from_tensor_slices(
            {k: tf.stack([v[s:s + clip_length] for s in starts]) for k, v in example.items()})

    return ds.flat_map(cut)


def _tfds_load(name, split, data_dir):
    import tensorflow_datasets as tfds

    data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=False,
                         shuffle_files=False)
    except (AssertionError, FileNotFoundError) as e:
        raise FileNotFoundError(
            f"tfds {name} is not prepared in {data_dir} ({str(e).splitlines()[0]}). "
            f"Prepare it with `tfds build {name} --data_dir {data_dir}` on a machine "
            "with network access, or use the offline memory-maze sequences "
            "(`--config memory_maze`).") from None


# ------------------------------------------------------------- memory-maze
def memory_maze_clips(directory, split="train", clip_length=16, clip_stride=16,
                      validation_fraction=0.125, test_fraction=0.125, max_clips=0,
                      max_episodes=None):
    """Clips of the memory-maze episodes in `directory` (rendered by
    `vq_zoo.data.memory_maze.generate_episodes`; the first `max_episodes`,
    default all) of one split, split by episode as
    `memory_maze.split_episodes` (the last episodes are test).

    Returns a dataset of `{"frames": uint8 (clip_length, H, W, 3),
    "actions": int32 (clip_length,)}`; `max_clips` keeps the first ones."""
    import tensorflow as tf

    from vq_zoo.data import memory_maze

    check_choice("split", split, SPLITS)
    _check_clip_args(clip_length, clip_stride)
    files = memory_maze.episode_files(os.path.expanduser(directory), max_episodes)
    chosen = memory_maze.split_episodes(len(files), validation_fraction,
                                        test_fraction)[split]
    frames, actions = [], []
    for i in chosen:
        episode = memory_maze.read_episode(files[i])
        clips, acts = cut_clips(episode["frames"], episode["actions"], clip_length,
                                clip_stride)
        frames.append(clips)
        actions.append(acts)
    frames, actions = np.concatenate(frames), np.concatenate(actions)
    if not len(frames):
        raise ValueError(
            f"The {split} episodes in {directory} are shorter than clip_length="
            f"{clip_length}")
    if max_clips:
        frames, actions = frames[:max_clips], actions[:max_clips]
    return tf.data.Dataset.from_tensor_slices({"frames": frames, "actions": actions})


# ------------------------------------------------------------------- BAIR
def bair_clips(split="train", clip_length=16, clip_stride=14, data_dir=None,
               max_videos=0):
    """Clips of tfds `bair_robot_pushing_small` (main camera, 64x64 RGB, 30
    frames per video; `action` float32 `(4,)` per frame).

    Args:
        split: "train", "validation" (the last 5% of tfds' train) or "test"
            (tfds' test); the tfds train split minus validation is "train".
        clip_length, clip_stride: clips cut from each video.
        data_dir: the tfds folder (default `~/tensorflow_datasets`).
        max_videos: int, keep the first videos (0: all).

    Returns a dataset of `{"frames": uint8 (clip_length, 64, 64, 3),
    "actions": float32 (clip_length, 4)}`."""
    import tensorflow as tf

    tfds_split = {"train": "train[:95%]", "validation": "train[95%:]",
                  "test": "test"}.get(split)
    if tfds_split is None:
        raise ValueError(f"`split` must be one of {SPLITS}, got {split!r}")
    _check_clip_args(clip_length, clip_stride)
    ds = _tfds_load(BAIR, tfds_split, data_dir)
    if max_videos:
        ds = ds.take(max_videos)
    ds = ds.map(lambda e: {"frames": tf.cast(e["image_main"], tf.uint8),
                           "actions": tf.cast(e["action"], tf.float32)},
                num_parallel_calls=tf.data.AUTOTUNE)
    return _window(ds, clip_length, clip_stride, 30)


# ----------------------------------------------------------- moving MNIST
def moving_mnist_sequences(num_sequences, sequence_length=20, split="train", seed=0,
                           digits_per_sequence=2, output_size=64, speed=0.1):
    """Moving-MNIST sequences made from MNIST digits of `split` with
    `tfds.video.moving_sequence.image_as_moving_sequence`: uint8 frames
    `(sequence_length, output_size, output_size, 1)`, the digits combined
    by a maximum (as tfds' `moving_mnist`). Digits, start positions and
    directions are drawn from `seed` with NumPy, so a seed gives the same
    sequences every time."""
    import tensorflow as tf
    from tensorflow_datasets.video import moving_sequence

    from vq_zoo.data.mnist import load_mnist

    for name, value in [("num_sequences", num_sequences),
                        ("sequence_length", sequence_length),
                        ("digits_per_sequence", digits_per_sequence)]:
        check_int(name, value)
    images, _ = load_mnist(split)
    digits = np.round(images * 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    n = num_sequences * digits_per_sequence
    index = rng.integers(0, len(digits), n)
    starts = rng.uniform(0, 1, (n, 2)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, n)
    velocity = (speed * np.stack([np.cos(angle), np.sin(angle)], -1)).astype(np.float32)

    def move(i, start, v):
        return moving_sequence.image_as_moving_sequence(
            tf.gather(digits, i), sequence_length=sequence_length,
            output_size=(output_size, output_size), velocity=v,
            start_position=start).image_sequence

    ds = tf.data.Dataset.from_tensor_slices((index, starts, velocity)).map(move)
    return ds.batch(digits_per_sequence).map(
        lambda x: {"frames": tf.reduce_max(x, axis=0)})


def moving_mnist_clips(split="train", clip_length=16, clip_stride=4, num_sequences=1000,
                       seed=0, data_dir=None, test_source="tfds", max_sequences=0):
    """Clips of Moving MNIST (no actions): `{"frames": uint8 (clip_length,
    64, 64, 1)}`.

    Args:
        split: "train" and "validation" are generated (`num_sequences` of
            20 frames from the MNIST digits of that split, seeded by `seed`);
            "test" is tfds `moving_mnist` (its only split) with
            `test_source="tfds"`, or generated from MNIST's test digits with
            `"generated"`.
        clip_length, clip_stride: clips cut from each 20-frame sequence.
        num_sequences: int, generated sequences.
        seed: int, the generated sequences' draw (each split its own).
        data_dir: the tfds folder for the test split.
        test_source: "tfds" or "generated".
        max_sequences: int, keep the first tfds test sequences (0: all).
    """
    import tensorflow as tf

    check_choice("split", split, SPLITS)
    if test_source not in ("tfds", "generated"):
        raise ValueError(f"`test_source` must be 'tfds' or 'generated', got {test_source!r}")
    _check_clip_args(clip_length, clip_stride)
    if split == "test" and test_source == "tfds":
        ds = _tfds_load(MOVING_MNIST, "test", data_dir)
        if max_sequences:
            ds = ds.take(max_sequences)
        ds = ds.map(lambda e: {"frames": tf.cast(e["image_sequence"], tf.uint8)})
    else:
        ds = moving_mnist_sequences(num_sequences, 20, split,
                                    seed=seed * 3 + SPLITS.index(split))
    return _window(ds, clip_length, clip_stride, 20)


__all__ = ["SOURCES", "memory_maze_clips", "bair_clips", "moving_mnist_clips",
           "moving_mnist_sequences", "cut_clips", "clip_starts"]
