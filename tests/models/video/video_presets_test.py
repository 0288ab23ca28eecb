"""The shipped memory-maze video presets."""

import json
import os

import numpy as np

from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.recipes.video.export_presets import PRIOR_PRESET
from vq_zoo.recipes.video.export_presets import VQVAE_PRESET

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "pretrained")


def test_shipped_pair_loads_and_its_actions_steer_the_rollout():
    video = LatentVideoModel.from_preset(VQVAE_PRESET, PRIOR_PRESET)
    assert (video.history, video.action_kind, video.action_dim) == (2, "discrete", 6)
    with open(os.path.join(ROOT, PRIOR_PRESET, "metadata.json")) as f:
        meta = json.load(f)
    assert meta["companion_preset"] == VQVAE_PRESET
    assert len(meta["metrics"]["rollout_psnr_db"]) == 10
    # A context from the synthetic world at the presets' size: two
    # different commanded actions, the same seed, a temperature at which
    # the trained logits decide.
    rng = np.random.default_rng(0)
    context = np.repeat(rng.integers(0, 256, (1, 1, 64, 64, 3), dtype=np.uint8), 2, axis=1)
    codes = video.encode_frames(context)
    forward = video.rollout_codes(codes, np.full((1, 2), 1, np.int32), seed=0,
                                  temperature=1e-3)
    left = video.rollout_codes(codes, np.full((1, 2), 2, np.int32), seed=0,
                               temperature=1e-3)
    again = video.rollout_codes(codes, np.full((1, 2), 1, np.int32), seed=0,
                                temperature=1e-3)
    assert forward.shape == (1, 2, 16, 16) and forward.dtype == np.int32
    np.testing.assert_array_equal(forward, again)
    assert not np.array_equal(forward, left)
    # The card's rollouts: each frame the consensus of 16 draws at
    # temperature 1 with classifier-free guidance 1.1 of the action (the
    # prior learned a no-action condition). The same seed draws the same
    # rollout, another seed another.
    from vq_zoo.models.video.latent_video_prior import LatentVideoPrior

    assert isinstance(video.prior, LatentVideoPrior) and video.null_action
    m = meta["metrics"]
    assert (m["rollout_temperature"], m["rollout_guidance"], m["rollout_consensus"]) == (
        1.0, 1.1, 16)
    guided = [video.rollout_codes(codes, np.full((1, 2), 2, np.int32), seed=s,
                                  temperature=1.0, guidance=1.1, num_samples=16)
              for s in (0, 0, 1)]
    np.testing.assert_array_equal(guided[0], guided[1])
    assert not np.array_equal(guided[0], guided[2])
