import numpy as np
import pytest

from vq_zoo.likelihoods.mu_law import MuLaw, mu_law_decode, mu_law_encode


def np_mu_law_encode(x, mu=255):
    """The companding law of ITU-T G.711 / WaveNet (2.2), in NumPy float64."""
    x = np.clip(np.asarray(x, np.float64), -1, 1)
    y = np.sign(x) * np.log(1 + mu * np.abs(x)) / np.log(1 + mu)
    return np.clip(np.floor((y + 1) / 2 * mu + 0.5), 0, mu).astype(np.int64)


def np_mu_law_decode(q, mu=255):
    y = 2 * np.asarray(q, np.float64) / mu - 1
    return np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu


def test_matches_numpy_reference():
    x = np.concatenate([np.linspace(-1.2, 1.2, 20001),
                        np.random.default_rng(0).laplace(0, 0.05, 5000)]).astype("float32")
    q = np.asarray(mu_law_encode(x))
    ref = np_mu_law_encode(x)
    # float32 vs float64 may flip a value sitting exactly on a bin edge.
    assert np.mean(q == ref) > 0.999 and np.max(np.abs(q - ref)) <= 1
    np.testing.assert_allclose(np.asarray(mu_law_decode(np.arange(256))),
                               np_mu_law_decode(np.arange(256)), atol=1e-6)


def test_round_trip_and_shape_of_the_bins():
    q = np.arange(256)
    centres = np.asarray(mu_law_decode(q))
    np.testing.assert_array_equal(np.asarray(mu_law_encode(centres)), q)
    assert np.all(np.diff(centres) > 0) and centres[0] == pytest.approx(-1)
    assert centres[-1] == pytest.approx(1)
    widths = np.diff(centres)
    assert widths[127] < widths[0] / 100  # fine near 0, coarse near +-1
    x = np.random.default_rng(1).uniform(-1, 1, 10000).astype("float32")
    err = np.abs(np.asarray(mu_law_decode(mu_law_encode(x))) - x)
    # Within one bin width of the bin the value fell in.
    bins = np.asarray(mu_law_encode(x))
    bound = np.concatenate([widths, widths[-1:]])[np.clip(bins, 0, 254)]
    assert np.all(err <= bound + 1e-6)


def test_likelihood_targets_and_errors():
    lik = MuLaw()
    x = np.random.default_rng(2).uniform(-1, 1, (2, 50, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(lik.targets(x)), np_mu_law_encode(x[..., 0]))
    assert tuple(lik.from_targets(lik.targets(x)).shape) == (2, 50, 1)
    with pytest.raises(ValueError, match=r"\(batch, time, 1\)"):
        lik.targets(np.zeros((2, 50, 2), "float32"))
    with pytest.raises(ValueError, match="num_classes"):
        MuLaw(True)
    # Uniform logits: ln(256) nats per sample.
    nll = np.asarray(lik.negative_log_likelihood(x, np.zeros((2, 50, 256), "float32")))
    np.testing.assert_allclose(nll, 50 * np.log(256), rtol=1e-6)
