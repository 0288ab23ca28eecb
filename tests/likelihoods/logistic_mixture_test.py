import numpy as np
import keras
import pytest

from vq_zoo import likelihoods
from vq_zoo.likelihoods.logistic_mixture import LogisticMixture


def numpy_nll(values, logits, loc, scale):
    """PixelCNN++'s discretised logistic mixture, written out directly."""

    def cdf(t):
        return 1.0 / (1.0 + np.exp(-(t - loc) / scale))

    v = values[..., None]
    upper = np.where(v >= 255, 1.0, cdf(v + 0.5))
    lower = np.where(v <= 0, 0.0, cdf(v - 0.5))
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return -np.log((w * (upper - lower)).sum(-1))


def test_matches_numpy_reference():
    rng = np.random.default_rng(0)
    m, c = 3, 2
    raw = rng.normal(size=(2, 2, 2, c, 3 * m)).astype("float32")
    raw[..., 2 * m :] = rng.uniform(-3, 0, size=raw[..., 2 * m :].shape)
    values = rng.integers(0, 256, (2, 2, 2, c))
    values[0, 0, 0] = [0, 255]  # the folded tails
    lik = LogisticMixture(m)
    params = raw.reshape(2, 2, 2, c * 3 * m)
    logits, loc, log_scale = np.split(raw.astype("float64"), 3, axis=-1)
    ref = numpy_nll(values, logits, 127.5 * (1 + loc), 127.5 * np.exp(log_scale))
    got = np.asarray(lik.negative_log_likelihood(values / 255.0, params))
    np.testing.assert_allclose(got, ref.sum(axis=(1, 2, 3)), rtol=1e-4)
    assert float(lik.loss(values / 255.0, params)) == pytest.approx(ref.mean(), rel=1e-4)


@pytest.mark.parametrize("log_scale", [-6.0, -2.0, 0.5])
def test_is_normalised_over_the_256_values(log_scale):
    rng = np.random.default_rng(1)
    one = rng.normal(size=(1, 1, 1, 12)).astype("float32")
    one[..., 8:] = log_scale
    params = np.repeat(one, 256, axis=0)
    x = (np.arange(256) / 255.0).reshape(256, 1, 1, 1)
    p = np.exp(-np.asarray(LogisticMixture(4).negative_log_likelihood(x, params), "float64"))
    assert p.sum() == pytest.approx(1.0, abs=1e-4)


def test_reconstruct_is_the_mixture_mean_and_config():
    lik = likelihoods.get("logistic_mixture")
    assert isinstance(lik, LogisticMixture) and lik.output_channels(3) == 45
    params = np.zeros((1, 1, 1, 3), "float32")
    params[..., 1] = 0.2  # location 127.5 * 1.2
    np.testing.assert_allclose(np.asarray(LogisticMixture(1).reconstruct(params)), [[[[153.0 / 255]]]], rtol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(LogisticMixture(2)))
    assert restored.num_mixtures == 2
    with pytest.raises(ValueError, match="num_mixtures"):
        LogisticMixture(0)


def test_far_components_give_finite_loss_and_gradients():
    """Regression: with components far from the data (large locations, tiny
    scales, as a decoder reaches on MNIST) tfp's quantized log-prob is -inf
    for interior values and the gradient NaN; ours stays finite and agrees
    with tfp wherever tfp is finite."""
    import tensorflow as tf

    lik = LogisticMixture(num_mixtures=2)
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(2, 3, 3, 6)).astype("float32") * 50.0
    x = (rng.integers(0, 256, size=(2, 3, 3, 1)) / 255.0).astype("float32")
    params = tf.Variable(raw)
    with tf.GradientTape() as tape:
        loss = lik.loss(x, params)
    grad = tape.gradient(loss, params)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(grad.numpy()))
    values = np.round(x * 255.0).astype("float32")
    reference = lik.distribution(raw).log_prob(values).numpy()
    ours = lik.log_prob(x, raw).numpy()
    finite = np.isfinite(reference) & (reference > -10)
    assert finite.any()
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("log_scale", [-3.0, -1.0, 0.5])
def test_matches_tensorflow_probability_on_every_value(log_scale):
    """The reference is tfp's own construction (`QuantizedDistribution` of
    `Logistic` in `MixtureSameFamily`, built by hand here, not through
    `distribution()`): every value 0..255, the folded tails included, on
    components near the data, where tfp's masses do not underflow."""
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    m = 3
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(1, 1, 1, 3 * m)).astype("float32")
    raw[..., m:2 * m] = rng.uniform(-0.9, 0.9, size=m)  # locations inside 0..255
    raw[..., 2 * m:] = log_scale + rng.uniform(-0.5, 0.5, size=m)
    params = np.repeat(raw, 256, axis=0)
    values = np.arange(256, dtype="float32").reshape(256, 1, 1, 1)
    ours = np.asarray(LogisticMixture(m).log_prob(values / 255.0, params))
    logits, loc, log_s = np.split(raw.astype("float64")[0, 0, 0], 3)
    reference = tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits),
        tfd.QuantizedDistribution(
            tfd.Logistic(loc=127.5 * (1 + loc) - 0.5, scale=127.5 * np.exp(log_s)),
            low=0.0, high=255.0)).log_prob(values.astype("float64")).numpy()
    assert np.all(np.isfinite(reference))
    assert np.exp(reference.astype("float64")).sum() == pytest.approx(1.0, abs=1e-6)
    # Masses of 1e-3 and more agree to float32 rounding; below, ours takes
    # the difference of two float32 sigmoids, then (under 1e-5) the density
    # at the bin centre (PixelCNN++), which stays within 1% of the mass.
    large = reference > np.log(1e-3)
    assert large.sum() > 20
    np.testing.assert_allclose(ours[large], reference[large], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours, reference, atol=1e-2)
