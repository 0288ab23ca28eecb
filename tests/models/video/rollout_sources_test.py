"""Rollouts of clips straight from each data source's loader."""

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.models.video.synthetic import write_episodes
from vq_zoo.data import video as video_data
from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.models.vqvae.vqvae import VQVAE


def _first_clips(ds, n=2):
    clips = list(ds.take(n).as_numpy_iterator())
    return {k: np.stack([c[k] for c in clips]) for k in clips[0]}


def _model(size, channels, kind, dim):
    keras.utils.set_random_seed(0)
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                              num_residual_hiddens=4, embedding_dim=4,
                              num_embeddings=16, channels=channels,
                              num_downsamples=3 if size == 64 else 2)
    vqvae.build((None, size, size, channels))
    code = size // (8 if size == 64 else 4)
    prior = LatentVideoModel.build_prior(16, (code, code), 4, history=2, action_kind=kind,
                                         action_dim=dim, filters=8, num_layers=1,
                                         conditioning_filters=8, conditioning_dilations=(1,))
    return LatentVideoModel(vqvae, prior)


@pytest.mark.parametrize("source", ["memory_maze", "bair", "moving_mnist"])
def test_rollout_of_loader_clips(source, tmp_path):
    if source == "memory_maze":
        directory = write_episodes(str(tmp_path), 3, 12)
        clips = _first_clips(video_data.memory_maze_clips(directory, "test", 5, 5))
        size, channels, kind, dim = 16, 3, "discrete", 6
    else:
        with tfds.testing.mock_data(num_examples=2):
            ds = (video_data.bair_clips("test", 5, 25) if source == "bair"
                  else video_data.moving_mnist_clips("test", 5, 15))
            clips = _first_clips(ds)
        size, channels = 64, (3 if source == "bair" else 1)
        kind, dim = ("continuous", 4) if source == "bair" else (None, 1)
    video = _model(size, channels, kind, dim)
    actions = clips.get("actions")
    frames = video.rollout(clips["frames"][:, :3],
                           None if actions is None else actions[:, 2:4],
                           seed=0, num_frames=2)
    assert frames.shape == (2, 2, size, size, channels)
    assert frames.dtype == np.float32 and np.all(np.isfinite(frames))
    if actions is not None:
        assert actions.dtype == (np.int32 if kind == "discrete" else np.float32)
