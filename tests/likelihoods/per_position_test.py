"""`loss_per_position`: one loss per position (channels averaged) whose mean
is the likelihood's `loss`, and for the MSE a NumPy reference; a likelihood
without one says which do."""

import numpy as np
import pytest

from vq_zoo.likelihoods import Categorical
from vq_zoo.likelihoods import LogisticMixture
from vq_zoo.likelihoods import MeanSquaredError
from vq_zoo.likelihoods import MuLaw


@pytest.mark.parametrize("likelihood", [MeanSquaredError(0.05), Categorical(16),
                                        LogisticMixture(2)], ids=lambda l: type(l).__name__)
def test_its_mean_is_the_loss(likelihood):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 5, 4, 3)).astype("float32") / 255.0
    params = rng.normal(0, 1, (2, 5, 4, likelihood.output_channels(3))).astype("float32")
    per = np.asarray(likelihood.loss_per_position(x, params))
    assert per.shape == (2, 5, 4)
    assert per.mean() == pytest.approx(float(likelihood.loss(x, params)), rel=1e-5)


def test_mse_against_numpy():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (2, 3, 2, (3))), rng.uniform(0, 1, (2, 3, 2, 3))
    expected = ((x - y) ** 2).mean(-1) / 0.25
    np.testing.assert_allclose(
        np.asarray(MeanSquaredError(0.25).loss_per_position(x.astype("float32"),
                                                              y.astype("float32"))),
        expected, rtol=1e-5)


def test_a_likelihood_without_one_names_those_with_one():
    with pytest.raises(NotImplementedError, match="'mse'"):
        MuLaw().loss_per_position(np.zeros((1, 4, 1)), np.zeros((1, 4, 256)))
