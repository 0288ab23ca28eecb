import keras
import numpy as np
import pytest

from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.models.video.latent_video_model import stack_history
from vq_zoo.models.vqvae.vqvae import VQVAE

SOURCES = {
    # source: (channels, action_kind, action_dim)
    "memory_maze": (3, "discrete", 6),
    "bair": (3, "continuous", 4),
    "moving_mnist": (1, None, None),
}


def make_video(channels=3, action_kind="discrete", action_dim=6, history=2, seed=0):
    keras.utils.set_random_seed(seed)
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                              num_residual_hiddens=4, embedding_dim=4,
                              num_embeddings=16, channels=channels)
    vqvae.build((None, 16, 16, channels))
    prior = LatentVideoModel.build_prior(
        16, (4, 4), 4, history=history, action_kind=action_kind,
        action_dim=action_dim or 1, filters=8, num_layers=2, conditioning_filters=8,
        conditioning_dilations=(1,))
    return LatentVideoModel(vqvae, prior)


def actions_for(video, batch, steps, rng):
    if video.action_kind == "discrete":
        return rng.integers(0, video.action_dim, (batch, steps)).astype(np.int32)
    if video.action_kind == "continuous":
        return rng.normal(size=(batch, steps, video.action_dim)).astype(np.float32)
    return None


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_rollout_shapes_and_dtypes(source):
    channels, kind, dim = SOURCES[source]
    video = make_video(channels, kind, dim)
    assert (video.history, video.action_kind, video.action_dim) == (2, kind, dim)
    rng = np.random.default_rng(0)
    context = rng.integers(0, 256, (2, 3, 16, 16, channels), dtype=np.uint8)
    actions = actions_for(video, 2, 4, rng)
    frames, codes = video.rollout(context, actions, seed=0, num_frames=4,
                                  return_codes=True)
    assert frames.shape == (2, 4, 16, 16, channels) and frames.dtype == np.float32
    assert codes.shape == (2, 4, 4, 4) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < 16
    # Decoding happens at the end: the frames are the VQ-VAE's decoding of
    # the drawn codes.
    decoded = np.asarray(video.vqvae.decode(codes.reshape(-1, 4, 4)))
    np.testing.assert_allclose(frames.reshape(decoded.shape), decoded, atol=1e-6)


def test_different_actions_give_different_rollouts():
    video = make_video()
    rng = np.random.default_rng(1)
    context = rng.integers(0, 256, (1, 2, 16, 16, 3), dtype=np.uint8)
    runs = {}
    for action in range(6):
        runs[action] = video.rollout_codes(
            video.encode_frames(context), np.full((1, 3), action, np.int32),
            seed=5, temperature=1e-3)
    # The same action and seed: the same rollout; at this temperature the
    # logits decide, and each action's differ.
    again = video.rollout_codes(video.encode_frames(context),
                                np.full((1, 3), 2, np.int32), seed=5, temperature=1e-3)
    np.testing.assert_array_equal(again, runs[2])
    distinct = {runs[a].tobytes() for a in runs}
    assert len(distinct) == 6


def test_stack_history_against_numpy():
    rng = np.random.default_rng(2)
    codebook = rng.normal(size=(16, 3)).astype(np.float32)
    codes = rng.integers(0, 16, (2, 3, 4, 5))
    out = np.asarray(stack_history(codebook, codes))
    assert out.shape == (2, 4, 5, 9)
    for b in range(2):
        for j in range(3):
            for y in range(4):
                for x in range(5):
                    np.testing.assert_array_equal(out[b, y, x, 3 * j:3 * j + 3],
                                                  codebook[codes[b, j, y, x]])


def test_prior_is_causal_within_a_frame():
    video = make_video()
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 16, (1, 5, 4, 4)).astype(np.int32)
    inputs = video.prior_inputs(codes, rng.integers(0, 6, (1, 5)))
    base = np.asarray(video.prior(inputs))
    for p in range(16):
        changed = {k: v.copy() for k, v in inputs.items()}
        flat = changed["codes"].reshape(len(changed["codes"]), -1)
        flat[:, p] = (flat[:, p] + 1) % 16
        out = np.asarray(video.prior(changed))
        diff = np.abs(out - base).reshape(len(out), 16, -1).max(-1).max(0)
        assert np.all(diff[:p + 1] == 0), p      # at and before p: unchanged
        if p < 15:
            assert diff[p + 1:].max() > 0, p     # after p: seen


def test_prior_sees_only_the_last_history_frames():
    video = make_video(history=2)
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 16, (1, 8, 4, 4)).astype(np.int32)
    actions = rng.integers(0, 6, (1, 8)).astype(np.int32)
    base = np.asarray(video.prior(video.prior_inputs(codes, actions)))
    j = 3  # perturb frame 3: examples are targets t = 2..7
    changed = codes.copy()
    changed[:, j] = (changed[:, j] + 7) % 16
    out = np.asarray(video.prior(video.prior_inputs(changed, actions)))
    for i, t in enumerate(range(2, 8)):
        moved = np.abs(out[i] - base[i]).max()
        if t < j or t > j + 2:   # a future frame, or older than the history
            assert moved == 0, t
        elif t > j:              # frame 3 is among the last 2 frames of t
            assert moved > 0, t
    # The action taken at frame t - 1 conditions frame t, and only it.
    acted = actions.copy()
    acted[:, 4] = (acted[:, 4] + 1) % 6
    out = np.asarray(video.prior(video.prior_inputs(codes, acted)))
    moved = [np.abs(out[i] - base[i]).max() for i in range(6)]
    assert [t for t, m in zip(range(2, 8), moved) if m > 0] == [5]


def test_prior_inputs_in_a_tf_data_map_equal_numpy():
    import tensorflow as tf

    video = make_video(3, "continuous", 4)
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 16, (3, 6, 4, 4)).astype(np.int32)
    actions = rng.normal(size=(3, 6, 4)).astype(np.float32)
    expected = video.prior_inputs(codes, actions)
    ds = tf.data.Dataset.from_tensor_slices({"codes": codes, "actions": actions})
    got = next(iter(ds.map(lambda c: video.prior_inputs(c["codes"], c["actions"]))
                    .unbatch().batch(100)))
    for key in ("codes", "spatial_condition", "condition"):
        np.testing.assert_array_equal(got[key].numpy(), expected[key])
    # Example (clip 1, t = 3): target frame 3, frames 1-2, action at 2.
    i = 1 * 4 + 1
    np.testing.assert_array_equal(expected["codes"][i], codes[1, 3])
    np.testing.assert_array_equal(expected["condition"][i], actions[1, 2])


def test_bad_arguments():
    video = make_video()
    context = np.zeros((1, 2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="actions.*in \\[0, 6\\)"):
        video.rollout(context, np.full((1, 2), 6, np.int32))
    with pytest.raises(ValueError, match="pass `actions`"):
        video.rollout(context, None, num_frames=2)
    with pytest.raises(ValueError, match="context_codes"):
        video.rollout(context[:, :1], np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="`history`"):
        LatentVideoModel.build_prior(16, (4, 4), 4, history=0)
    with pytest.raises(ValueError, match="`action_kind`"):
        LatentVideoModel.build_prior(16, (4, 4), 4, action_kind="joystick")
    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

    plain = GatedPixelCNNPrior(num_embeddings=16, shape=(4, 4), filters=8, num_layers=1)
    with pytest.raises(ValueError, match="spatial_condition_shape"):
        LatentVideoModel(video.vqvae, plain)


# ------------------------------------------------- classifier-free guidance
def make_guided_video(seed=0):
    keras.utils.set_random_seed(seed)
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                              num_residual_hiddens=4, embedding_dim=4,
                              num_embeddings=16, channels=3)
    vqvae.build((None, 16, 16, 3))
    prior = LatentVideoModel.build_prior(
        16, (4, 4), 4, history=2, action_dim=6, filters=8, num_layers=2,
        conditioning_filters=8, conditioning_dilations=(1,), null_action=True)
    rng = np.random.default_rng(seed + 1)
    for w in prior.weights:  # visible action paths (the last projection starts at 0)
        w.assign(rng.normal(scale=0.3, size=w.shape).astype(np.float32))
    return LatentVideoModel(vqvae, prior)


def test_drop_actions_replaces_only_the_action_at_the_rate():
    video = make_guided_video()
    assert (video.action_dim, video.null_action) == (6, True)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 16, (300, 5, 4, 4)).astype(np.int32)
    actions = rng.integers(0, 6, (300, 5)).astype(np.int32)
    inputs = video.prior_inputs(codes, actions)  # 900 examples
    out = {k: np.asarray(v) for k, v in video.drop_actions(inputs, 0.25, (3, 4)).items()}
    dropped = out["condition"] == 6
    assert abs(dropped.mean() - 0.25) < 0.06  # 4 standard deviations
    np.testing.assert_array_equal(out["codes"], inputs["codes"])
    d = 2 * 4  # the history's channels: 2 frames of 4-d codebook vectors
    np.testing.assert_array_equal(out["spatial_condition"][..., :d],
                                  inputs["spatial_condition"][..., :d])
    np.testing.assert_array_equal(out["spatial_condition"][~dropped],
                                  inputs["spatial_condition"][~dropped])
    np.testing.assert_array_equal(out["condition"][~dropped], inputs["condition"][~dropped])
    assert not out["spatial_condition"][dropped][..., d:].any()
    # The same seed drops the same examples, another seed others.
    again = np.asarray(video.drop_actions(inputs, 0.25, (3, 4))["condition"])
    np.testing.assert_array_equal(again, out["condition"])
    other = np.asarray(video.drop_actions(inputs, 0.25, (3, 5))["condition"])
    assert (other != out["condition"]).any()
    with pytest.raises(ValueError, match="Action dropout needs a prior with a 'no action'"):
        make_video().drop_actions(inputs, 0.25, (3, 4))


def test_rollout_guidance():
    video = make_guided_video()
    rng = np.random.default_rng(2)
    context = rng.integers(0, 256, (2, 2, 16, 16, 3), dtype=np.uint8)
    actions = rng.integers(0, 6, (2, 2)).astype(np.int32)
    plain = video.rollout(context, actions, seed=1, temperature=0, return_codes=True)[1]
    same = video.rollout(context, actions, seed=1, temperature=0, guidance=1.0,
                         return_codes=True)[1]
    np.testing.assert_array_equal(same, plain)
    guided = video.rollout(context, actions, seed=1, temperature=0, guidance=4.0,
                           return_codes=True)[1]
    assert guided.shape == plain.shape and (guided != plain).any()
    with pytest.raises(ValueError, match="`guidance`=2 needs a prior trained with action"):
        make_video().rollout(context, actions, guidance=2.0)


def test_family_sample_takes_the_guidance():
    from vq_zoo.models.family import ConditionError
    from vq_zoo.models.video.family import LatentVideoFamily

    video = make_guided_video()
    family = LatentVideoFamily(video.vqvae, video.prior)
    context = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    rows = family.sample(2, seed=1, temperature=0, context=context, action="left",
                         num_frames=2, guidance=3.0)
    expected = video.rollout_codes(video.encode_frames(np.repeat(context[None], 2, 0)),
                                   np.full((2, 2), 2, np.int32), seed=1, temperature=0,
                                   guidance=3.0)
    np.testing.assert_array_equal(rows.codes, expected)
    plain = make_video()
    with pytest.raises(ConditionError, match="--guidance 3: this video prior was trained"):
        LatentVideoFamily(plain.vqvae, plain.prior).sample(
            1, context=context, num_frames=1, guidance=3.0)
