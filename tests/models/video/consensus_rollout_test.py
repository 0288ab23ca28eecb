"""Consensus rollouts (`LatentVideoModel.rollout_codes(num_samples=N)`)
against the exact per-position marginals of a tiny video prior (every
2x2 frame of K=3 codes enumerated, its probability from the prior's
teacher-forced forward pass), frame after frame; and one draw of consensus
against plain sampling."""

import keras
import numpy as np
import pytest

from tests.generation.enumeration import every_map
from tests.generation.enumeration import position_marginals
from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.models.vqvae.vqvae import VQVAE

K, SHAPE, ACTIONS = 3, (2, 2), 6


def tiny_video():
    """Frames of 2x2 codes, K=3, two past frames and a discrete action.
    The prior's weights are drawn at a larger scale than Keras'
    initialisers, so that most positions' marginals have a clear mode
    (0.45 to 0.9 likely) that depends on the past and the action, and one
    draw misses some of them."""
    keras.utils.set_random_seed(0)
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
                              embedding_dim=4, num_embeddings=K, channels=3)
    vqvae.build((None, 8, 8, 3))
    prior = LatentVideoModel.build_prior(
        K, SHAPE, 4, history=2, action_kind="discrete", action_dim=ACTIONS, filters=8,
        num_layers=2, conditioning_filters=8, conditioning_dilations=(1,))
    video = LatentVideoModel(vqvae, prior)
    rng = np.random.default_rng(2)
    for w in prior.weights:
        w.assign(rng.normal(0, 0.35, w.shape).astype("float32"))
    return video


def exact_marginals(video, past, action):
    """`(batch, positions, K)`: the marginal of each position of the next
    frame given `past` `(batch, 2, 2, 2)` and `action` `(batch,)`, from
    the prior's teacher-forced logits of all K^4 frames."""
    positions = int(np.prod(SHAPE))
    every = every_map(K, positions)
    out = []
    for i in range(len(past)):
        cond = video.condition(np.repeat(past[i:i + 1], len(every), 0),
                               np.repeat(action[i:i + 1], len(every), 0))
        logits = np.asarray(video.prior({**cond, "codes": every.reshape((-1,) + SHAPE)}))
        out.append(position_marginals(every, logits.reshape(len(every), positions, K)))
    return np.stack(out)


def clear_modes(marginals, num):
    """Each position's most probable code, and where it is told apart from
    the second (a margin of 10 standard errors of the difference of two
    frequencies over `num` draws)."""
    top2 = np.sort(marginals, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 10 * np.sqrt(2 * top2[..., 1] / num)
    return marginals.argmax(-1), clear


def test_each_frame_is_the_mode_of_its_marginals_given_the_consensus_past():
    video = tiny_video()
    rng = np.random.default_rng(3)
    context = rng.integers(0, K, (6, 2) + SHAPE).astype(np.int32)
    actions = rng.integers(0, ACTIONS, (6, 2)).astype(np.int32)
    num = 3000
    codes = video.rollout_codes(context, actions, seed=5, num_samples=num)
    assert codes.shape == (6, 2) + SHAPE and codes.dtype == np.int32
    checked = 0
    past = context
    for frame in range(2):
        mode, clear = clear_modes(exact_marginals(video, past, actions[:, frame]), num)
        got = codes[:, frame].reshape(len(codes), -1)
        np.testing.assert_array_equal(got[clear], mode[clear])
        checked += clear.sum()
        # The next frame's past is the consensus frame just decided.
        past = np.concatenate([past[:, 1:], codes[:, frame:frame + 1]], axis=1)
    assert checked >= 36  # of the 48 positions
    # Plain draws at the same seed are not the modes: the check above tells
    # consensus from sampling.
    drawn = video.rollout_codes(context, actions, seed=5)[:, 0].reshape(6, -1)
    mode, clear = clear_modes(exact_marginals(video, context, actions[:, 0]), num)
    assert (drawn != mode)[clear].any()


def test_greedy_consensus_draws_once():
    """At temperature 0 every draw is the greedy frame: consensus decoding
    gives the greedy rollout, frame for frame."""
    video = tiny_video()
    rng = np.random.default_rng(4)
    context = rng.integers(0, K, (3, 2) + SHAPE).astype(np.int32)
    actions = rng.integers(0, ACTIONS, (3, 3)).astype(np.int32)
    np.testing.assert_array_equal(
        video.rollout_codes(context, actions, seed=0, temperature=0, num_samples=5),
        video.rollout_codes(context, actions, seed=1, temperature=0))


def test_num_samples_refusals():
    video = tiny_video()
    context = np.zeros((1, 2) + SHAPE, np.int32)
    actions = np.zeros((1, 1), np.int32)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1, got"):
            video.rollout_codes(context, actions, num_samples=bad)


def test_the_family_samples_by_its_recorded_consensus(tmp_path):
    import json

    from vq_zoo.models.family import ConditionError
    from vq_zoo.models.family import ModelFamily
    from vq_zoo.models.video.family import LatentVideoFamily

    video = tiny_video()
    run = tmp_path / "run"
    run.mkdir()
    video.vqvae.save(str(run / "vqvae.keras"))
    video.prior.save(str(run / "prior.keras"))
    (run / "config.json").write_text(json.dumps(
        {"recipe": "video", "config": {"rollout_consensus": 5}}))
    family = ModelFamily.load(str(run))
    assert isinstance(family, LatentVideoFamily) and family.consensus == 5
    context = np.random.default_rng(6).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    codes = video.rollout_codes(video.encode_frames(np.repeat(context[None], 2, 0)),
                                np.full((2, 1), 2, np.int32), seed=4, num_samples=5)
    samples = family.sample(2, seed=4, context=context, action="left", num_frames=1)
    np.testing.assert_array_equal(samples.codes, codes)
    assert "consensus of 5 draws" in samples.what
    # A call's own number wins; one draw is plain sampling.
    one = family.sample(2, seed=4, context=context, action="left", num_frames=1,
                        consensus=1)
    np.testing.assert_array_equal(
        one.codes, video.rollout_codes(video.encode_frames(np.repeat(context[None], 2, 0)),
                                       np.full((2, 1), 2, np.int32), seed=4))
    # A run that records none draws once.
    (run / "config.json").write_text(json.dumps({"recipe": "video", "config": {}}))
    assert ModelFamily.load(str(run)).consensus == 1
    with pytest.raises(ConditionError, match="--consensus: `consensus` must be an integer "
                                             ">= 1, got 0 .draws per generated frame"):
        family.sample(1, context=context, num_frames=1, consensus=0)
