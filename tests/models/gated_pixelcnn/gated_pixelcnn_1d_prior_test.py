import numpy as np
import keras
import pytest

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from tests.models.gated_pixelcnn import markov
from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior

K, T = 8, 12


def small_prior(**kwargs):
    kwargs = {"filters": 8, "dilation_rates": (1, 2, 4), **kwargs}
    return GatedPixelCNN1DPrior(K, T, **kwargs)


def test_causal_with_the_dilated_receptive_field():
    prior = small_prior(kernel_size=2)
    codes = np.random.default_rng(0).integers(0, K, (1, T))
    batch = np.repeat(codes, T, axis=0)
    batch[np.arange(T), np.arange(T)] = (batch[np.arange(T), np.arange(T)] + 1) % K
    base = np.asarray(prior(codes))[0]
    out = np.asarray(prior(batch))
    for p in range(T):
        np.testing.assert_array_equal(out[p, : p + 1], base[: p + 1])
        changed = np.abs(out[p] - base).max(axis=-1) > 1e-6
        # Shifted input, dilations 1, 2, 4 with 2 taps: code p reaches
        # outputs p + 1 ... p + 8.
        assert changed.nonzero()[0].tolist() == list(range(p + 1, min(T, p + 9)))


def test_conditioning_changes_output():
    prior = small_prior(condition_dim=3, spatial_condition_shape=(T // 3,), spatial_condition_classes=4)
    rng = np.random.default_rng(1)
    codes = rng.integers(0, K, (2, T))
    c = rng.normal(size=(2, 3)).astype("float32")
    s = rng.integers(0, 4, (2, T // 3))
    base = np.asarray(prior({"codes": codes, "condition": c, "spatial_condition": s}))
    other_c = np.asarray(prior({"codes": codes, "condition": -c, "spatial_condition": s}))
    other_s = np.asarray(prior({"codes": codes, "condition": c, "spatial_condition": (s + 1) % 4}))
    assert np.abs(base - other_c)[:, 0].max() > 1e-4
    assert np.abs(base - other_s)[:, 0].max() > 1e-4


@pytest.mark.parametrize(
    "kwargs,condition",
    [
        (dict(), None),
        (dict(kernel_size=3, num_classes=3), np.array([0, 2, 1])),
        (dict(spatial_condition_shape=(T // 2, 2)), np.ones((3, T // 2, 2), "float32")),
    ],
)
def test_cached_sampler_equals_naive_and_is_reproducible(kwargs, condition):
    prior = small_prior(**kwargs)
    a = np.asarray(prior.sample(3, condition, 0.8, seed=5))
    np.testing.assert_array_equal(a, np.asarray(prior.sample(3, condition, 0.8, seed=5)))
    np.testing.assert_array_equal(a, np.asarray(prior.sample_naive(3, condition, 0.8, seed=5)))
    assert (a != np.asarray(prior.sample(3, condition, 0.8, seed=6))).any()
    assert a.shape == (3, T) and a.min() >= 0 and a.max() < K


def test_learns_the_entropy_of_a_markov_chain():
    rng = np.random.default_rng(0)
    train, test = markov.chains(16384, 16, rng), markov.chains(4096, 16, rng)
    target = markov.entropy_per_code(16)
    prior = GatedPixelCNN1DPrior(markov.K, 16, filters=16, dilation_rates=(1, 2))
    prior.compile(optimizer=keras.optimizers.Adam(3e-3))
    prior.fit(train, batch_size=128, epochs=3, verbose=0)
    logs = prior.evaluate(test, batch_size=1024, verbose=0, return_dict=True)
    assert abs(logs["nats_per_code"] - target) < 0.05, (logs, target)
    freq = markov.empirical_transitions(np.asarray(prior.sample(256, seed=0)))
    np.testing.assert_allclose(freq, markov.TRANSITIONS, atol=0.05)


def test_saving_round_trip(tmp_path):
    prior = small_prior(num_classes=3)
    rng = np.random.default_rng(3)
    inputs = {"codes": rng.integers(0, K, (8, T)), "condition": rng.integers(0, 3, (8,))}
    prior.compile(optimizer="adam")
    prior.fit(inputs, epochs=1, verbose=0)
    run_serialization_test(prior)
    run_model_saving_test(prior, inputs, tmp_path)


def test_bad_inputs_raise_value_error():
    prior = small_prior(num_classes=3)
    codes = np.zeros((2, T), "int32")
    with pytest.raises(ValueError, match=r"`codes` must be integers in \[0, 8\)"):
        prior({"codes": codes + K, "condition": np.array([0, 1])})
    with pytest.raises(ValueError, match=r"`condition` must be int labels of shape \(2,\)"):
        prior({"codes": codes, "condition": np.zeros((2, 3), "int32")})
    with pytest.raises(ValueError, match="dilation_rates"):
        small_prior(dilation_rates=(1, 0))
