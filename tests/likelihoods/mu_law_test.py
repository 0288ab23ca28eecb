import numpy as np
import pytest

from vq_zoo.likelihoods.mu_law import MuLaw, mu_law_decode, mu_law_encode


def test_matches_librosa_companding():
    # The reference is librosa's mu-law (an independent implementation of
    # ITU-T G.711's law): each code is the bin whose centre, in the
    # companded domain, is nearest to librosa's compressed value, and each
    # decoded bin centre is librosa's expansion of that centre.
    import librosa

    mu = 255
    x = np.concatenate([np.linspace(-1.2, 1.2, 20001),
                        np.random.default_rng(0).laplace(0, 0.05, 5000)]).astype("float32")
    q = np.asarray(mu_law_encode(x))
    companded = librosa.mu_compress(np.clip(x, -1, 1).astype(np.float64), mu=mu,
                                    quantize=False)
    centres = 2 * np.arange(mu + 1) / mu - 1
    nearest = np.abs(companded[:, None] - centres[None, :]).argmin(axis=1)
    # float32 vs float64 may flip a value sitting exactly between two centres.
    assert np.mean(q == nearest) > 0.999 and np.max(np.abs(q - nearest)) <= 1
    np.testing.assert_allclose(np.asarray(mu_law_decode(np.arange(mu + 1))),
                               librosa.mu_expand(centres, mu=mu, quantize=False), atol=1e-6)


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
    np.testing.assert_array_equal(np.asarray(lik.targets(x)),
                                  np.asarray(mu_law_encode(x[..., 0])))
    assert tuple(lik.from_targets(lik.targets(x)).shape) == (2, 50, 1)
    with pytest.raises(ValueError, match=r"\(batch, time, 1\)"):
        lik.targets(np.zeros((2, 50, 2), "float32"))
    with pytest.raises(ValueError, match="num_classes"):
        MuLaw(True)
    # Uniform logits: ln(256) nats per sample.
    nll = np.asarray(lik.negative_log_likelihood(x, np.zeros((2, 50, 256), "float32")))
    np.testing.assert_allclose(nll, 50 * np.log(256), rtol=1e-6)
