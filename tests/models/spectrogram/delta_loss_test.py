"""SpectrogramVQVAE(delta_weight=...): the L1 error of the predicted
frames' changes from one frame to the next. Checked against NumPy's
`np.diff` of the model's own predicted frames, by the property that a
target off by a constant per band costs no delta loss while it costs
reconstruction loss, and by a model that fits, logs the term, saves and
loads (a model without it serialises as before)."""

import dataclasses
import os

import keras
import numpy as np
import pytest

from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

STATS = ((np.log(110.0), 0.2), (np.log(240.0), 0.1))


def model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2, crop_length=3200,
                seed=0, pitch_condition=True, pitch_statistics=STATS, vocoder="world",
                num_bands=20, num_aperiodicity_bands=4, delta_weight=0.5)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def batch(rng, n=2):
    audio = rng.uniform(-0.5, 0.5, (n, 3200, 1)).astype("float32")
    speakers = (np.arange(n) % 2).astype("int32")
    pitch = np.stack([rng.normal(size=(n, 20)), np.ones((n, 20))], -1).astype("float32")
    target = rng.uniform(0, 5, (n, 20, 24)).astype("float32")
    return audio, speakers, pitch, target


def test_delta_loss_is_the_l1_error_of_frame_to_frame_changes():
    rng = np.random.default_rng(0)
    m = model()
    data = batch(rng)
    scalars, _ = m.compute_loss_terms(data, training=False)
    frames = np.asarray(m(data, training=False), np.float64)
    target = data[3].astype(np.float64)
    expected = np.abs(np.diff(frames, axis=1) - np.diff(target, axis=1)).mean()
    np.testing.assert_allclose(float(scalars["delta_loss"]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(scalars["reconstruction_loss"]),
                               np.abs(frames - target).mean(), rtol=1e-5)
    others = sum(float(scalars[k]) for k in ("reconstruction_loss", "codebook_loss",
                                              "commitment_loss"))
    np.testing.assert_allclose(float(scalars["loss"]), others + 0.5 * expected, rtol=1e-5)


def test_a_constant_offset_per_band_costs_no_delta_loss():
    rng = np.random.default_rng(1)
    m = model()
    audio, speakers, pitch, _ = batch(rng)
    frames = np.asarray(m((audio, speakers, pitch, None), training=False))
    offset = rng.uniform(0.5, 1.5, (2, 1, 24)).astype("float32")
    scalars, _ = m.compute_loss_terms((audio, speakers, pitch, frames + offset),
                                      training=False)
    assert float(scalars["delta_loss"]) < 1e-5
    np.testing.assert_allclose(float(scalars["reconstruction_loss"]), offset.mean(),
                               rtol=1e-4)
    # A target whose frames are shuffled in time costs it.
    shuffled = frames[:, rng.permutation(frames.shape[1])]
    scalars, _ = m.compute_loss_terms((audio, speakers, pitch, shuffled), training=False)
    assert float(scalars["delta_loss"]) > 0.01


def test_a_delta_trained_model_fits_logs_saves_and_loads(tmp_path):
    rng = np.random.default_rng(2)
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = m.fit(batch(rng, 4), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["delta_loss"][-1])
    path = os.path.join(tmp_path, "m.keras")
    m.save(path)
    again = keras.models.load_model(path)
    assert again.delta_weight == 0.5 and "delta_loss" in again.metrics_names
    data = batch(rng)
    np.testing.assert_allclose(np.asarray(again(data, training=False)),
                               np.asarray(m(data, training=False)), atol=1e-6)
    plain = model(delta_weight=0.0)
    assert "delta_weight" not in plain.get_config()
    with pytest.raises(ValueError, match="`delta_weight` must be a number >= 0"):
        model(delta_weight=-1.0)


def test_the_recipe_refuses_a_delta_loss_without_a_spectrogram_decoder():
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    with pytest.raises(ValueError, match="delta_weight=1.0 weighs the spectrogram"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke_wavenet"], delta_weight=1.0))
