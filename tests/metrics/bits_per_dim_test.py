import math

import numpy as np
import keras
import pytest

from vq_zoo import VQVAE
from vq_zoo import GatedPixelCNNPrior
from vq_zoo import bits_per_dim

K = 16


def make_vqvae(likelihood):
    model = VQVAE.image_model(
        num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
        embedding_dim=4, num_embeddings=K, likelihood=likelihood,
    )
    model.build((None, 8, 8, 3))
    return model


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3)).astype("float32") / 255.0


def zero_output(layer):
    for w in layer.weights:
        w.assign(np.zeros(w.shape, "float32"))


def last_conv(decoder):
    convs = [l for l in decoder._flatten_layers() if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    return convs[-1]


def test_uniform_models_give_the_analytic_value():
    # A decoder whose logits are all zero is uniform over 256 values
    # (8 bits per dimension); a prior with zero logits is uniform over K codes
    # (log2 K bits per code, 2 x 2 codes per 8 x 8 x 3 image).
    vqvae = make_vqvae("categorical")
    zero_output(last_conv(vqvae.decoder))
    prior = GatedPixelCNNPrior(K, (2, 2), filters=8, num_layers=2)
    zero_output(prior.output_logits)
    data = [images(3, 0), (images(2, 1),)]
    expected = 8.0 + 4 * math.log2(K) / (8 * 8 * 3)
    assert bits_per_dim(vqvae, prior, data) == pytest.approx(expected, rel=1e-6)


def test_equals_the_sum_of_both_terms_by_tensorflow_probability():
    # The reference is tfp's Categorical on the decoder's and the prior's
    # logits: -log p(x | z) over the 256 values of each of the image's
    # dimensions plus -log p(z) over the K codes, in bits per dimension.
    import tensorflow_probability as tfp

    vqvae = make_vqvae("categorical")
    prior = GatedPixelCNNPrior(K, (2, 2), filters=8, num_layers=2, num_classes=2)
    x, labels = images(4), np.array([0, 1, 1, 0])
    codes = vqvae.encode(x)
    params = np.asarray(vqvae.decoder(vqvae.quantizer.lookup(codes)))
    pixel_logits = params.reshape(params.shape[:-1] + (3, 256))
    values = np.round(x * 255).astype(np.int32)
    decoder_nats = -np.sum(tfp.distributions.Categorical(logits=pixel_logits).log_prob(values))
    code_logits = np.asarray(prior({"codes": codes, "condition": labels}))
    prior_nats = -np.sum(tfp.distributions.Categorical(logits=code_logits).log_prob(codes))
    got = bits_per_dim(vqvae, prior, [(x[:2], labels[:2]), (x[2:], labels[2:])])
    expected = (decoder_nats + prior_nats) / (x.size * math.log(2))
    assert got == pytest.approx(expected, rel=1e-5)


def test_vqvae_trains_with_each_likelihood():
    for likelihood in ["categorical", "logistic_mixture"]:
        vqvae = make_vqvae(likelihood)
        vqvae.compile(optimizer="adam")
        x = images(8)
        prior = GatedPixelCNNPrior(K, (2, 2), filters=4, num_layers=1)
        before = bits_per_dim(vqvae, prior, [x])
        history = vqvae.fit(x, epochs=3, batch_size=8, verbose=0)
        losses = history.history["reconstruction_loss"]
        assert np.isfinite(losses).all() and losses[-1] < losses[0], likelihood
        # The same (untrained) prior: the decoder's likelihood alone got
        # better, so the images' bits/dim under the pair fell.
        after = bits_per_dim(vqvae, prior, [x])
        assert np.isfinite(before) and after < before, (likelihood, before, after)


def test_mse_has_no_bits_per_dim():
    with pytest.raises(ValueError, match="bits/dim"):
        bits_per_dim(make_vqvae("mse"), GatedPixelCNNPrior(K, (2, 2), filters=4, num_layers=1), [images(1)])
