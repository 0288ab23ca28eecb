"""The generic cached sampler and the priors' `step` protocol."""

import numpy as np
import keras
import pytest
from keras import ops

from vq_zoo.generation import compile_loop
from vq_zoo.generation import gumbel_noise
from vq_zoo.generation import logits_with_cache
from vq_zoo.generation import sample_with_cache
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_prior import GatedPixelCNNPrior

K, H, W, T = 8, 4, 5, 12


def test_gumbel_max_draws_follow_softmax_of_logits_over_temperature():
    # A Markov chain written as a `step`: the state is nothing, the logits a
    # table row chosen by the previous token. The sampler's transition
    # frequencies must be softmax(table / temperature).
    rng = np.random.default_rng(0)
    table = rng.normal(size=(4, 4)).astype("float32") * 2
    temperature = 0.7

    def step(prev, state, index):
        return ops.take(ops.convert_to_tensor(table), prev, axis=0), state

    noise = gumbel_noise((4000, 6, 4), seed=3)
    tokens = np.asarray(
        compile_loop(lambda n: sample_with_cache(step, (), n, temperature))(noise)
    )
    expected = np.exp(table / temperature)
    expected /= expected.sum(-1, keepdims=True)
    first = np.bincount(tokens[:, 0], minlength=4) / len(tokens)
    np.testing.assert_allclose(first, expected[0], atol=0.03)  # prev = 0 at start
    counts = np.zeros((4, 4))
    np.add.at(counts, (tokens[:, :-1].ravel(), tokens[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(-1, keepdims=True), expected, atol=0.03)


def test_state_and_index_reach_the_step_in_order():
    # A step that counts in its state and emits the index as a one-hot.
    def step(prev, state, index):
        logits = ops.one_hot(ops.full((2,), index), 6) * 100.0
        return logits, state + 1

    noise = gumbel_noise((2, 6, 6), seed=0)
    tokens = np.asarray(sample_with_cache(step, ops.zeros(()), noise))
    np.testing.assert_array_equal(tokens, np.tile(np.arange(6), (2, 1)))
    logits = np.asarray(logits_with_cache(step, ops.zeros(()), tokens))
    np.testing.assert_array_equal(logits.argmax(-1), tokens)


def prior_2d(**kwargs):
    kwargs = {"filters": 8, "num_layers": 3, **kwargs}
    return GatedPixelCNNPrior(K, (H, W), **kwargs)


def prior_1d(**kwargs):
    kwargs = {"filters": 8, "dilation_rates": (1, 2, 4), **kwargs}
    return GatedPixelCNN1DPrior(K, T, **kwargs)


def conditions(prior, n, rng):
    out = {}
    if prior.num_classes:
        out["condition"] = rng.integers(0, prior.num_classes, (n,))
    elif prior.condition_dim:
        out["condition"] = rng.normal(size=(n, prior.condition_dim)).astype("float32")
    if prior.spatial_condition_shape is not None:
        shape = (n,) + prior.spatial_condition_shape
        out["spatial_condition"] = (
            rng.integers(0, prior.spatial_condition_classes, shape)
            if prior.spatial_condition_classes
            else rng.normal(size=shape).astype("float32")
        )
    return out


CASES = [
    # Gated 2D blocks with attention interspersed (VQ-VAE-2's top prior).
    ("2d", dict(attention_every=2, num_heads=2, dropout=0.1)),
    # The bottom prior: the top codes through a residual conditioning stack.
    ("2d", dict(spatial_condition_shape=(2, W), spatial_condition_classes=5,
                conditioning_layers=2, num_classes=3)),
    # A WaveNet stack with global and local (per-step) conditions.
    ("1d", dict(condition_dim=3, spatial_condition_shape=(T // 2, 2), kernel_size=3)),
]


def make(kind, kwargs, **extra):
    return (prior_2d if kind == "2d" else prior_1d)(**kwargs, **extra)


@pytest.mark.parametrize("kind,kwargs", CASES)
def test_stepped_logits_equal_the_full_forward_pass(kind, kwargs):
    prior = make(kind, kwargs)
    rng = np.random.default_rng(1)
    cond = conditions(prior, 3, rng)
    codes = rng.integers(0, K, (3,) + prior.shape).astype("int32")
    full = np.asarray(prior({"codes": codes, **cond}), "float32")
    state = prior.initial_state(3, cond or None)
    stepped = np.asarray(logits_with_cache(prior.step, state, codes.reshape(3, -1)))
    np.testing.assert_allclose(
        stepped.reshape(full.shape), full, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("kind,kwargs", CASES)
def test_cached_sampling_equals_naive_sampling(kind, kwargs):
    prior = make(kind, kwargs)
    cond = conditions(prior, 3, np.random.default_rng(2)) or None
    a = np.asarray(prior.sample(3, cond, 0.9, seed=4))
    np.testing.assert_array_equal(a, np.asarray(prior.sample_naive(3, cond, 0.9, seed=4)))
    assert a.shape == (3,) + prior.shape and a.min() >= 0 and a.max() < K
    assert (a != np.asarray(prior.sample(3, cond, 0.9, seed=5))).any()


@pytest.mark.parametrize("kind,kwargs", [CASES[0], CASES[2]])
def test_mixed_bfloat16_steps_in_the_compute_dtype(kind, kwargs):
    prior = make(kind, kwargs, dtype="mixed_bfloat16")
    rng = np.random.default_rng(3)
    cond = conditions(prior, 2, rng)
    codes = rng.integers(0, K, (2,) + prior.shape).astype("int32")
    state = prior.initial_state(2, cond or None)
    caches = [t for t in keras.tree.flatten(state) if "float" in str(t.dtype)]
    assert caches and all(
        keras.backend.standardize_dtype(t.dtype) == "bfloat16" for t in caches
    )
    full = np.asarray(prior({"codes": codes, **cond}), "float32")
    stepped = np.asarray(logits_with_cache(prior.step, state, codes.reshape(2, -1)))
    # bf16 keeps 8 bits: logits of order 1 agree to a few hundredths.
    np.testing.assert_allclose(stepped.reshape(full.shape), full, rtol=0.05, atol=0.05)
    # The naive sampler rounds differently (whole maps at a time), yet with
    # logits this close the Gumbel-max draws agree for this seed.
    samples = np.asarray(prior.sample(2, cond or None, seed=0))
    np.testing.assert_array_equal(
        samples, np.asarray(prior.sample_naive(2, cond or None, seed=0))
    )


# ------------------------------------------------- classifier-free guidance
def test_guided_step_draws_from_the_guided_distribution():
    # Markov chains written as a `step` over the doubled batch: the first
    # half's logits are a row of `cond`, the second half's a row of
    # `uncond`, each chosen by that half's previous token. Guided draws must
    # follow softmax(uncond + s * (cond - uncond)) of the drawn token (which
    # both halves must receive).
    from vq_zoo.generation.sampler import guided_step

    rng = np.random.default_rng(4)
    cond = rng.normal(size=(4, 4)).astype("float32")
    uncond = rng.normal(size=(4, 4)).astype("float32")
    n, s = 4000, 2.5

    def step(prev, state, index):
        logits = ops.concatenate([
            ops.take(ops.convert_to_tensor(cond), prev[:n], axis=0),
            ops.take(ops.convert_to_tensor(uncond), prev[n:], axis=0)], axis=0)
        return logits, state

    noise = gumbel_noise((n, 6, 4), seed=5)
    tokens = np.asarray(compile_loop(
        lambda x: sample_with_cache(guided_step(step, s), (), x))(noise))
    expected = np.exp(uncond + s * (cond - uncond))
    expected /= expected.sum(-1, keepdims=True)
    counts = np.zeros((4, 4))
    np.add.at(counts, (tokens[:, :-1].ravel(), tokens[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(-1, keepdims=True), expected, atol=0.03)


def test_guidance_one_is_plain_conditional_sampling_bit_for_bit():
    # The doubled batch's conditional half at s = 1 gives exactly the
    # conditional prior's logits and draws: today's samples.
    from vq_zoo.generation.sampler import guided_step

    prior = prior_2d(num_classes=3)
    labels = np.array([0, 2, 1], "int32")
    other = np.array([1, 1, 0], "int32")  # an "unconditional" half that differs
    noise = gumbel_noise((3, H * W, K), seed=6)
    plain = compile_loop(lambda x: sample_with_cache(
        prior.step, prior.initial_state(3, labels), x, 0.8), jit_compile=False)(noise)
    guided = compile_loop(lambda x: sample_with_cache(
        guided_step(prior.step, 1.0),
        prior.initial_state(6, np.concatenate([labels, other])), x, 0.8),
        jit_compile=False)(noise)
    np.testing.assert_array_equal(np.asarray(guided), np.asarray(plain))
    # At s = 3 the other half matters.
    guided3 = compile_loop(lambda x: sample_with_cache(
        guided_step(prior.step, 3.0),
        prior.initial_state(6, np.concatenate([labels, other])), x, 0.8),
        jit_compile=False)(noise)
    assert (np.asarray(guided3) != np.asarray(plain)).any()
