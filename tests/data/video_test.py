import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.models.video.synthetic import write_episodes
from vq_zoo.data import video


def _numpy(ds):
    return list(ds.as_numpy_iterator())


def test_cut_clips_against_slices():
    frames = np.arange(20)[:, None] * np.ones((1, 3), np.int64)
    actions = np.arange(20) % 6
    clips, acts = video.cut_clips(frames, actions, clip_length=8, clip_stride=5)
    assert [c[0, 0] for c in clips] == [0, 5, 10]   # 15 + 8 > 20: no fourth clip
    for c, a, s in zip(clips, acts, (0, 5, 10)):
        np.testing.assert_array_equal(c, frames[s:s + 8])
        np.testing.assert_array_equal(a, actions[s:s + 8])
    with pytest.raises(ValueError, match="clip_stride"):
        video.cut_clips(frames, actions, 8, 0)


def test_memory_maze_clips_split_by_episode(tmp_path):
    directory = write_episodes(str(tmp_path), num_episodes=4, steps=10)
    test = _numpy(video.memory_maze_clips(directory, "test", clip_length=4, clip_stride=3,
                                          validation_fraction=0.25, test_fraction=0.25))
    # The last episode is the test split: clips at 0, 3, 6 of its 10 frames.
    with np.load(tmp_path / "episode_000000_000003.npz") as f:
        frames, actions = f["frames"], f["actions"]
    assert len(test) == 3
    for clip, start in zip(test, (0, 3, 6)):
        assert clip["frames"].dtype == np.uint8 and clip["actions"].dtype == np.int32
        np.testing.assert_array_equal(clip["frames"], frames[start:start + 4])
        np.testing.assert_array_equal(clip["actions"], actions[start:start + 4])
    train = _numpy(video.memory_maze_clips(directory, "train", 4, 3, 0.25, 0.25))
    assert len(train) == 2 * 3
    # The first 3 episodes only: episode 2 becomes the test split.
    test3 = _numpy(video.memory_maze_clips(directory, "test", 4, 3, 0.25, 0.25,
                                           max_episodes=3))
    with np.load(tmp_path / "episode_000000_000002.npz") as f:
        np.testing.assert_array_equal(test3[0]["frames"], f["frames"][:4])


def test_bair_clips_on_mocked_tfds():
    with tfds.testing.mock_data(num_examples=4):
        raw = _numpy(tfds.load(video.BAIR, split="test"))
        clips = _numpy(video.bair_clips("test", clip_length=16, clip_stride=14))
    # 30 frames per video: clips at 0 and 14.
    assert len(clips) == 2 * len(raw)
    for i, clip in enumerate(clips):
        example, start = raw[i // 2], 14 * (i % 2)
        assert clip["frames"].shape == (16, 64, 64, 3) and clip["frames"].dtype == np.uint8
        assert clip["actions"].shape == (16, 4) and clip["actions"].dtype == np.float32
        np.testing.assert_array_equal(clip["frames"], example["image_main"][start:start + 16])
        np.testing.assert_array_equal(clip["actions"], example["action"][start:start + 16])
    with pytest.raises(ValueError, match="`split`"):
        video.bair_clips("dev")


def test_moving_mnist_test_split_on_mocked_tfds():
    with tfds.testing.mock_data(num_examples=3):
        raw = _numpy(tfds.load(video.MOVING_MNIST, split="test"))
        clips = _numpy(video.moving_mnist_clips("test", clip_length=16, clip_stride=4))
    assert len(clips) == 2 * len(raw)   # 20 frames: clips at 0 and 4
    np.testing.assert_array_equal(clips[1]["frames"], raw[0]["image_sequence"][4:20])
    assert set(clips[0]) == {"frames"}


def test_generated_moving_mnist_moves_whole_digits():
    from vq_zoo.data.mnist import load_mnist

    sequences = _numpy(video.moving_mnist_sequences(3, sequence_length=8, split="test",
                                                    seed=7, digits_per_sequence=1))
    again = _numpy(video.moving_mnist_sequences(3, sequence_length=8, split="test",
                                                seed=7, digits_per_sequence=1))
    other = _numpy(video.moving_mnist_sequences(3, sequence_length=8, split="test",
                                                seed=8, digits_per_sequence=1))
    digits = np.round(load_mnist("test")[0][..., 0] * 255).astype(np.int64)
    sums = set(digits.reshape(len(digits), -1).sum(1).tolist())
    for s, a, o in zip(sequences, again, other):
        frames = s["frames"]
        assert frames.shape == (8, 64, 64, 1) and frames.dtype == np.uint8
        np.testing.assert_array_equal(frames, a["frames"])
        assert not np.array_equal(frames, o["frames"])
        # One digit pasted whole in every frame: each frame holds a digit's
        # ink, the same in every frame, and it moves.
        totals = frames.reshape(8, -1).astype(np.int64).sum(1)
        assert len(set(totals.tolist())) == 1 and int(totals[0]) in sums
        assert not np.array_equal(frames[0], frames[-1])
