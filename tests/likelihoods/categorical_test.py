import numpy as np
import keras
import pytest

from vq_zoo import likelihoods
from vq_zoo.likelihoods.categorical import Categorical


def test_matches_numpy_log_softmax():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 3, 3, 2)) / 255.0
    params = rng.normal(size=(2, 3, 3, 512)).astype("float32") * 3
    lik = Categorical()
    logits = params.reshape(2, 3, 3, 2, 256).astype("float64")
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    bins = np.round(x * 255).astype(int)
    ref = -np.take_along_axis(logp, bins[..., None], -1)[..., 0]
    np.testing.assert_allclose(
        np.asarray(lik.negative_log_likelihood(x, params)), ref.sum(axis=(1, 2, 3)), rtol=1e-5
    )
    assert float(lik.loss(x, params)) == pytest.approx(ref.mean(), rel=1e-5)
    recon = np.asarray(lik.reconstruct(params))
    np.testing.assert_allclose(recon, logits.argmax(-1) / 255.0, rtol=1e-6)


def test_is_normalised_over_the_256_values():
    rng = np.random.default_rng(1)
    params = np.repeat(rng.normal(size=(1, 1, 1, 256)).astype("float32"), 256, axis=0)
    x = (np.arange(256) / 255.0).reshape(256, 1, 1, 1)
    p = np.exp(-np.asarray(Categorical().negative_log_likelihood(x, params), "float64"))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)


def test_registry_config_and_errors():
    lik = likelihoods.get("categorical")
    assert isinstance(lik, Categorical) and lik.output_channels(3) == 768
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(Categorical(16)))
    assert restored.num_bins == 16
    with pytest.raises(ValueError, match="num_bins"):
        Categorical(1)
    with pytest.raises(ValueError, match="256 \\* channels"):
        lik.loss(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 100), "float32"))
