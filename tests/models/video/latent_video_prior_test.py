import keras
import numpy as np
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.models.video.latent_video_model import LatentVideoModel
from vq_zoo.models.video.latent_video_model import stack_history
from vq_zoo.models.video.latent_video_model import with_action_channels
from vq_zoo.models.video.latent_video_prior import LatentVideoPrior


def make_prior(action_kind="discrete", action_dim=6, dilations=(1, 2), seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return LatentVideoPrior(16, (8, 8), embedding_dim=3, history=2, action_kind=action_kind,
                            action_dim=action_dim, filters=8, num_layers=2,
                            conditioning_filters=8, conditioning_dilations=dilations,
                            **kwargs)


def inputs_for(prior, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    out = {"codes": rng.integers(0, 16, (batch, 8, 8)).astype(np.int32),
           "spatial_condition": rng.normal(
               size=(batch,) + tuple(prior.spatial_condition_shape)).astype(np.float32)}
    if prior.action_kind == "discrete":
        out["condition"] = rng.integers(0, prior.action_dim, batch).astype(np.int32)
    elif prior.action_kind == "continuous":
        out["condition"] = rng.normal(size=(batch, prior.action_dim)).astype(np.float32)
    return out


def _randomise(prior, seed=1):
    # The conditioning network's last projection starts at zero (the
    # identity); random weights make every path visible.
    rng = np.random.default_rng(seed)
    for w in prior.weights:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype(np.float32))


@pytest.mark.parametrize("kind,dim,channels", [("discrete", 6, 2 * 3 + 6),
                                               ("continuous", 4, 2 * 3 + 4),
                                               (None, 1, 2 * 3)])
def test_config_and_saved_model_round_trips(kind, dim, channels, tmp_path):
    prior = make_prior(kind, dim)
    assert prior.spatial_condition_shape == (8, 8, channels)
    _randomise(prior)
    x = inputs_for(prior)
    expected = np.asarray(prior(x))
    rebuilt = run_serialization_test(prior)
    assert len(rebuilt.weights) == len(prior.weights)
    loaded = run_model_saving_test(prior, x, tmp_path)
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, atol=1e-5)


def test_conditioning_starts_as_the_identity_and_reaches_its_receptive_field():
    prior = make_prior(dilations=(1, 2))
    spatial = np.random.default_rng(2).normal(size=(1, 8, 8, 12)).astype(np.float32)
    # Zero-initialised last projection: the blocks see the raw map at first.
    np.testing.assert_allclose(np.asarray(prior._condition_stack(spatial)), spatial,
                               atol=1e-6)
    _randomise(prior)
    base = np.asarray(prior._condition_stack(spatial))
    changed = spatial.copy()
    changed[0, 4, 4, :6] += 1.0   # a past frame's vector at (4, 4)
    moved = np.abs(np.asarray(prior._condition_stack(changed)) - base).max(-1)[0]
    # Dilations 1 and 2: a 3x3 then a 5x5 (dilated) window, reach 3 codes.
    rows, cols = np.nonzero(moved > 0)
    assert max(np.abs(rows - 4).max(), np.abs(cols - 4).max()) == 3


def test_the_action_channels_change_the_conditioning_everywhere():
    prior = make_prior()
    _randomise(prior)
    rng = np.random.default_rng(3)
    codebook = rng.normal(size=(16, 3)).astype(np.float32)
    past = rng.integers(0, 16, (1, 2, 8, 8))
    stacked = np.asarray(stack_history(codebook, past))
    maps = [np.asarray(prior._condition_stack(np.asarray(
        with_action_channels(stacked, np.array([a]), "discrete", 6)))) for a in (1, 2)]
    assert np.all(np.abs(maps[0] - maps[1]).max(-1) > 0)


def test_cached_sampling_equals_naive_sampling():
    prior = make_prior()
    _randomise(prior)
    x = inputs_for(prior, batch=2, seed=4)
    condition = {"condition": x["condition"], "spatial_condition": x["spatial_condition"]}
    fast = np.asarray(prior.sample(2, condition=condition, seed=7))
    naive = np.asarray(prior.sample_naive(2, condition=condition, seed=7))
    np.testing.assert_array_equal(fast, naive)


def test_with_action_channels_against_numpy():
    rng = np.random.default_rng(5)
    spatial = rng.normal(size=(3, 4, 5, 2)).astype(np.float32)
    actions = np.array([0, 5, 2])
    out = np.asarray(with_action_channels(spatial, actions, "discrete", 6))
    assert out.shape == (3, 4, 5, 8)
    np.testing.assert_array_equal(out[..., :2], spatial)
    for b, a in enumerate(actions):
        expected = np.zeros(6, np.float32)
        expected[a] = 1
        np.testing.assert_array_equal(out[b].reshape(-1, 8)[:, 2:],
                                      np.tile(expected, (20, 1)))
    vectors = rng.normal(size=(3, 4)).astype(np.float32)
    out = np.asarray(with_action_channels(spatial, vectors, "continuous", 4))
    np.testing.assert_array_equal(out[:, 2, 3, 2:], vectors)


def test_greedy_rollout_is_the_argmax_of_each_position():
    from vq_zoo.models.vqvae.vqvae import VQVAE

    keras.utils.set_random_seed(0)
    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
                              embedding_dim=3, num_embeddings=16, channels=3)
    vqvae.build((None, 32, 32, 3))
    prior = make_prior()
    _randomise(prior)
    video = LatentVideoModel(vqvae, prior)
    assert (video.history, video.action_kind, video.action_dim) == (2, "discrete", 6)
    rng = np.random.default_rng(6)
    context = rng.integers(0, 16, (2, 2, 8, 8)).astype(np.int32)
    actions = np.array([[1], [3]], np.int32)
    drawn = video.rollout_codes(context, actions, temperature=0, seed=3)[:, 0]
    # Teacher-forced logits at the drawn codes: each drawn code is its
    # position's argmax given the codes before it (raster order).
    inputs = video.prior_inputs(np.concatenate([context, drawn[:, None]], axis=1),
                                np.concatenate([np.zeros((2, 1), np.int32), actions,
                                                np.zeros((2, 1), np.int32)], axis=1)[:, :3])
    logits = np.asarray(prior(inputs))
    np.testing.assert_array_equal(logits.argmax(-1), drawn)
    # Another seed, the same greedy frame.
    again = video.rollout_codes(context, actions, temperature=0, seed=11)[:, 0]
    np.testing.assert_array_equal(again, drawn)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`conditioning_dilations`"):
        make_prior(dilations=(1, 0))
    with pytest.raises(ValueError, match="`conditioning_dilations`"):
        make_prior(dilations="1,x")
    with pytest.raises(ValueError, match="`action_kind`"):
        make_prior(action_kind="joystick")
    with pytest.raises(ValueError, match="`history`"):
        LatentVideoPrior(16, (8, 8), embedding_dim=3, history=0)
    with pytest.raises(ValueError, match="`num_classes` is set by LatentVideoPrior"):
        LatentVideoPrior(16, (8, 8), embedding_dim=3, num_classes=6)
    prior = make_prior()
    from vq_zoo.models.vqvae.vqvae import VQVAE

    vqvae = VQVAE.image_model(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
                              embedding_dim=4, num_embeddings=16, channels=3)
    vqvae.build((None, 32, 32, 3))
    with pytest.raises(ValueError, match="`embedding_dim` must agree"):
        LatentVideoModel(vqvae, prior)
    matching = VQVAE.image_model(num_hiddens=8, num_residual_layers=1,
                                 num_residual_hiddens=4, embedding_dim=3,
                                 num_embeddings=16, channels=3)
    matching.build((None, 32, 32, 3))
    with pytest.raises(ValueError, match="`temperature` must be >= 0"):
        LatentVideoModel(matching, prior).rollout_codes(
            np.zeros((1, 2, 8, 8), np.int32), np.zeros((1, 1), np.int32), temperature=-1)


# ------------------------------------------------- classifier-free guidance
def test_null_action_adds_one_label_and_is_saved(tmp_path):
    prior = make_prior(null_action=True)
    assert (prior.num_classes, prior.null_label) == (7, 6)
    assert prior.spatial_condition_shape == make_prior().spatial_condition_shape
    assert make_prior().null_label is None
    _randomise(prior)
    x = inputs_for(prior)
    x["condition"][0] = 6  # "no action" is a valid input
    rebuilt = run_serialization_test(prior)
    assert rebuilt.null_action is True
    loaded = run_model_saving_test(prior, x, tmp_path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(prior(x)), atol=1e-5)
    with pytest.raises(ValueError, match="`null_action`.*needs discrete actions"):
        make_prior("continuous", 4, null_action=True)
    with pytest.raises(ValueError, match="`null_action` must be True or False"):
        make_prior(null_action=1)


def test_guided_cached_sampling_equals_a_naive_guided_sampler():
    # Reference: the full forward pass at each position, once under the
    # condition and once under "no action" (built here: label 6, the action
    # channels zeroed), combined in NumPy, drawn with the same Gumbel noise.
    from vq_zoo.generation.sampler import gumbel_noise

    keras.utils.set_random_seed(0)
    prior = LatentVideoPrior(16, (4, 4), embedding_dim=3, history=2, action_dim=6,
                             filters=8, num_layers=2, conditioning_filters=8,
                             conditioning_dilations=(1,), null_action=True)
    _randomise(prior)
    rng = np.random.default_rng(5)
    history = rng.normal(size=(3, 4, 4, 6)).astype(np.float32)
    labels = np.array([1, 4, 2], np.int32)
    cond = {"condition": labels,
            "spatial_condition": with_action_channels(history, labels, "discrete", 6)}
    null = {"condition": np.full(3, 6, np.int32),
            "spatial_condition": np.concatenate([history, np.zeros((3, 4, 4, 6), np.float32)],
                                                axis=-1)}
    s, t = 2.5, 0.8
    noise = np.asarray(gumbel_noise((3, 4, 4, 16), seed=7)).reshape(3, 16, 16)
    codes = np.zeros((3, 16), np.int32)
    for p in range(16):
        lc = np.asarray(prior({"codes": codes.reshape(3, 4, 4), **cond})).reshape(3, 16, 16)
        lu = np.asarray(prior({"codes": codes.reshape(3, 4, 4), **null})).reshape(3, 16, 16)
        logits = lu[:, p] + s * (lc[:, p] - lu[:, p])
        codes[:, p] = np.argmax(logits / t + noise[:, p], axis=-1)
    guided = np.asarray(prior.sample(3, cond, t, seed=7, guidance=s))
    np.testing.assert_array_equal(guided.reshape(3, 16), codes)
    plain = np.asarray(prior.sample(3, cond, t, seed=7))
    assert (plain != guided).any()  # the scale matters here
    # The prior's own null condition is the one built above.
    made = prior.null_condition(cond)
    np.testing.assert_array_equal(np.asarray(made["condition"]), null["condition"])
    np.testing.assert_array_equal(np.asarray(made["spatial_condition"]),
                                  null["spatial_condition"])


def test_guidance_arguments():
    prior = make_prior(null_action=True)
    x = inputs_for(prior, batch=1)
    cond = {"condition": x["condition"], "spatial_condition": x["spatial_condition"]}
    for bad in (-1.0, float("nan"), float("inf"), "2", True):
        with pytest.raises(ValueError, match="`guidance` must be a finite number >= 0"):
            prior.sample(1, cond, guidance=bad)
    with pytest.raises(ValueError, match="no 'no action' condition: guidance needs"):
        make_prior().sample(1, cond, guidance=2.0)
