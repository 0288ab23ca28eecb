"""DMLabVQVAE's corrupted decoder inputs in training (`input_noise`): no
noise is plain teacher forcing, the loss is the true codes' NLL under the
corrupted inputs, the replaced fraction and the replacements follow their
distributions, the decoder stays causal, saving keeps the setting."""

import keras
import numpy as np
import pytest

from vq_zoo.models.dmlab import DMLabVQVAE

K_IN = 16
SHAPE = (4, 5)


def model_with(input_noise=0.0, source="random", k_in=K_IN, shape=SHAPE, seed=3):
    # Gradient codebooks (ema=False): a training-mode call changes no state,
    # so two calls on the same batch see the same quantised vectors.
    model = DMLabVQVAE.code_map_model(
        num_embeddings=k_in, shape=shape, embedding_dim=4, latent_num_embeddings=8,
        filters=8, hidden_units=16, decoder_filters=8, decoder_layers=2,
        spatial_channels=4, conditioning_layers=1, ema=False,
        quantizer_kwargs=dict(seed=1), input_noise=input_noise,
        input_noise_source=source, input_noise_seed=seed)
    return model


def maps(n, shape=SHAPE, k=K_IN, seed=0):
    return np.random.default_rng(seed).integers(0, k, (n,) + shape).astype("int32")


def numpy_nll(logits, targets):
    logits = np.asarray(logits, np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], -1).mean()


def conditions(model, x):
    vq = model._quantize_latents(x, False)
    return model._decoder_inputs(vq["quantized"], None)


def teacher_forced_logits(model, x, codes=None):
    return np.asarray(model.decoder({**conditions(model, x),
                                     "codes": x if codes is None else codes}))


def test_no_noise_is_teacher_forcing_and_evaluation_never_corrupts():
    x = maps(6)
    plain = model_with(0.0)
    assert not hasattr(plain, "input_noise_generator")
    expected = numpy_nll(teacher_forced_logits(plain, x), x)
    scalars, _ = plain.compute_loss_terms(x, training=True)
    assert float(scalars["reconstruction_loss"]) == pytest.approx(expected, rel=1e-6)
    # A model with noise, the same weights: its evaluation loss is the
    # teacher-forced one, its training loss is not.
    noisy = model_with(0.5)
    noisy.compute_loss_terms(x, training=True)  # makes the same variables
    noisy.set_weights(plain.get_weights())
    scalars, _ = noisy.compute_loss_terms(x, training=False)
    assert float(scalars["reconstruction_loss"]) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(np.asarray(noisy(x)), np.asarray(plain(x)), rtol=1e-6)
    scalars, _ = noisy.compute_loss_terms(x, training=True)
    assert float(scalars["reconstruction_loss"]) != pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("source", ["random", "model"])
def test_training_loss_is_the_true_codes_nll_under_the_corrupted_inputs(source):
    model = model_with(0.4, source)
    x = maps(6)
    generator = model.input_noise_generator
    state = generator.state.numpy()
    scalars, _ = model.compute_loss_terms(x, training=True)
    # The same draws again: put the generator back and corrupt directly.
    generator.state.assign(state)
    corrupted = np.asarray(model.corrupt_codes(x, conditions(model, x)))
    assert (corrupted != x).any()
    # Targets are the true codes, the inputs the corrupted ones.
    expected = numpy_nll(teacher_forced_logits(model, x, corrupted), x)
    assert float(scalars["reconstruction_loss"]) == pytest.approx(expected, rel=1e-5)


def test_random_replacements_cover_the_fraction_uniformly():
    k, p = 64, 0.3
    model = model_with(p, "random", k_in=k, shape=(21, 21))
    x = maps(64, (21, 21), k)
    corrupted = np.asarray(model.corrupt_codes(x, conditions(model, x[:1]), seed=7))
    n = x.size
    # A replacement equals the true code with probability 1/k.
    changed = (corrupted != x).mean()
    expected = p * (1 - 1 / k)
    assert abs(changed - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    # The changed positions' new codes are uniform over the others: a
    # chi-square test of their histogram (63 degrees of freedom; the 0.999
    # quantile is about 104).
    new = corrupted[corrupted != x]
    counts = np.bincount(new, minlength=k)
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert chi2 < 110
    # Other draws with another seed, the same with the same one.
    again = np.asarray(model.corrupt_codes(x, conditions(model, x[:1]), seed=7))
    np.testing.assert_array_equal(again, corrupted)
    assert (np.asarray(model.corrupt_codes(x, conditions(model, x[:1]), seed=8))
            != corrupted).any()


def test_model_replacements_follow_the_decoders_own_distribution():
    p, n = 0.5, 4000
    model = model_with(p, "model")
    x = np.repeat(maps(1, seed=5), n, axis=0)
    cond = conditions(model, x)
    corrupted = np.asarray(model.corrupt_codes(x, cond, seed=11)).reshape(n, -1)
    logits = teacher_forced_logits(model, x[:1]).reshape(-1, K_IN).astype(np.float64)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    # Each position keeps its code with 1 - p, else takes a draw from the
    # softmax of the decoder's teacher-forced logits there.
    truth = np.eye(K_IN)[x[0].ravel()]
    expected = (1 - p) * truth + p * probs
    observed = np.stack([np.bincount(corrupted[:, j], minlength=K_IN) / n
                         for j in range(corrupted.shape[1])])
    assert np.abs(observed - expected).max() < 5 * np.sqrt(0.25 / n)


@pytest.mark.parametrize("source", ["random", "model"])
def test_corrupted_decoding_stays_causal(source):
    model = model_with(0.5, source)
    x = maps(4)
    cond = conditions(model, x)
    positions = int(np.prod(SHAPE))

    def noisy_logits(m):
        codes = model.corrupt_codes(m, cond, seed=21)
        return np.asarray(model.decoder({**cond, "codes": codes})).reshape(4, positions, K_IN)

    base = noisy_logits(x)
    for p in (0, 6, 13, 19):
        changed = x.copy().reshape(4, positions)
        changed[:, p:] = (changed[:, p:] + 1 + np.arange(positions - p)) % K_IN
        out = noisy_logits(changed.reshape(x.shape))
        # The logits up to p (raster order) do not see the codes at p and after.
        np.testing.assert_allclose(out[:, :p + 1], base[:, :p + 1], rtol=1e-5, atol=1e-6)


def test_fit_saving_and_refusals(tmp_path):
    model = model_with(0.25, "model")
    # Eager: tracing the train step costs a minute on the 2-core machine;
    # the recipe's smoke test runs it in a graph.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    x = maps(16)
    before = model.get_weights()
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert (loaded.input_noise, loaded.input_noise_source) == (0.25, "model")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    assert "input_noise" not in model_with(0.0).get_config()
    for bad in (-0.1, 1.0, True):
        with pytest.raises(ValueError, match=r"`input_noise` must be a fraction in \[0, 1\)"):
            model_with(bad)
    with pytest.raises(ValueError, match="`input_noise_source` must be one of"):
        model_with(0.1, "argmax")
