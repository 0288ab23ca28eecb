"""SpectrogramVQVAE(swap_weight=...): each clip's codes decoded in the
voice of its parallel pair must give that voice's aligned WORLD features.
Checked against the L1 error computed in NumPy from `decode_frames` of the
clip's own codes in the pair's voice, by the property that a pair of the
clip's own speaker and own features costs exactly its reconstruction loss,
by batches without a pair (evaluated, no term logged), by a pair speaker out
of range refused before any weight moves, and by a model that
fits, logs the term, saves and loads (one without it serialises as
before); the recipe wires pairs of the offline corpus into its crops."""

import dataclasses
import os

import keras
import numpy as np
import pytest

from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

STATS = ((np.log(110.0), 0.2), (np.log(240.0), 0.1), (np.log(180.0), 0.15))


def model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=3, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2, crop_length=3200,
                seed=0, pitch_condition=True, pitch_statistics=STATS, vocoder="world",
                num_bands=20, num_aperiodicity_bands=4, swap_weight=0.5)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def batch(rng, n=2):
    audio = rng.uniform(-0.5, 0.5, (n, 3200, 1)).astype("float32")
    speakers = (np.arange(n) % 3).astype("int32")
    pitch = np.stack([rng.normal(size=(n, 20)), np.ones((n, 20))], -1).astype("float32")
    target = rng.uniform(0, 5, (n, 20, 24)).astype("float32")
    others = ((speakers + 1) % 3).astype("int32")
    other_target = rng.uniform(0, 5, (n, 20, 24)).astype("float32")
    return audio, speakers, pitch, target, others, other_target


def test_swap_loss_is_the_l1_error_of_the_codes_decoded_in_the_other_voice():
    rng = np.random.default_rng(0)
    m = model()
    data = batch(rng)
    scalars, _ = m.compute_loss_terms(data, training=False)
    codes = m.encode(data[0])
    converted = m.decode_frames(codes, condition=data[4], pitch=data[2]).astype(np.float64)
    expected = np.abs(converted - data[5]).mean()
    np.testing.assert_allclose(float(scalars["swap_loss"]), expected, rtol=1e-5)
    others = sum(float(scalars[k]) for k in ("reconstruction_loss", "codebook_loss",
                                              "commitment_loss"))
    np.testing.assert_allclose(float(scalars["loss"]), others + 0.5 * expected, rtol=1e-5)


def test_a_pair_of_the_clips_own_voice_costs_its_reconstruction_loss():
    rng = np.random.default_rng(1)
    m = model(cycle_weight=1.0, cycle_trains_decoder=False)
    audio, speakers, pitch, target, _, _ = batch(rng)
    scalars, _ = m.compute_loss_terms((audio, speakers, pitch, target, speakers, target),
                                      training=False)
    np.testing.assert_allclose(float(scalars["swap_loss"]),
                               float(scalars["reconstruction_loss"]), rtol=1e-6)
    # The cycle reads the pair's conversion back: a "conversion" to the
    # clip's own voice is its reconstruction, whose latents are nearer the
    # quantised ones than another voice's are.
    own = float(scalars["cycle_loss"])
    assert own > 0
    scalars, _ = m.compute_loss_terms(
        (audio, speakers, pitch, target, (speakers + 1) % 3, target), training=False)
    assert float(scalars["cycle_loss"]) != pytest.approx(own)


def test_batches_without_a_pair_log_no_swap_term_and_a_bad_pair_is_refused():
    rng = np.random.default_rng(2)
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    audio, speakers, pitch, target, others, other_target = batch(rng, 4)
    scalars, _ = m.compute_loss_terms((audio, speakers, pitch, target), training=False)
    assert "swap_loss" not in scalars
    logs = m.evaluate((audio, speakers, pitch, target), batch_size=2, verbose=0,
                      return_dict=True)
    assert np.isfinite(logs["reconstruction_loss"])
    with pytest.raises(ValueError, match=r"must be \(batch, 20, 24\) \(the other voice "
                                         r"aligned to the clip's frames\), got \(4, 19, 24\)"):
        m.compute_loss_terms((audio, speakers, pitch, target, others, other_target[:, 1:]),
                             training=False)


def test_a_pair_speaker_out_of_range_is_refused_before_any_weight_moves():
    rng = np.random.default_rng(4)
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    audio, speakers, pitch, target, others, other_target = batch(rng, 4)
    m.fit((audio, speakers, pitch, target, others, other_target), batch_size=4, epochs=1,
          verbose=0)
    before = [np.array(w) for w in m.weights]
    for bad in (np.array([0, 1, 3, 2], "int32"), np.array([0, -1, 2, 1], "int32")):
        with pytest.raises(Exception, match=r"swap pair speakers \(the fifth batch element\)` "
                                            r"must be integers"):
            m.fit((audio, speakers, pitch, target, bad, other_target), batch_size=4,
                  epochs=1, verbose=0)
        for old, new in zip(before, m.weights):
            np.testing.assert_array_equal(old, np.array(new))
    with pytest.raises(ValueError, match=r"swap pair speakers .* must be "
                                         r"integers in \[0, 3\), got dtype float32"):
        m.fit((audio, speakers, pitch, target, others.astype("float32"), other_target),
              batch_size=4, epochs=1, verbose=0)


def test_a_swap_trained_model_fits_logs_saves_and_loads(tmp_path):
    rng = np.random.default_rng(3)
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = m.fit(batch(rng, 4), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["swap_loss"][-1])
    path = os.path.join(tmp_path, "m.keras")
    m.save(path)
    again = keras.models.load_model(path)
    assert again.swap_weight == 0.5 and "swap_loss" in again.metrics_names
    data = batch(rng)
    np.testing.assert_allclose(np.asarray(again(data, training=False)),
                               np.asarray(m(data, training=False)), atol=1e-6)
    assert "swap_weight" not in model(swap_weight=0.0).get_config()
    with pytest.raises(ValueError, match="`swap_weight` must be a number >= 0"):
        model(swap_weight=-1.0)
    with pytest.raises(ValueError, match="swap_weight=0.5 compares WORLD features of "
                                         "another voice: it needs vocoder='world'"):
        model(vocoder="griffin_lim", pitch_condition=False, pitch_statistics=None)


def test_the_recipe_crops_carry_aligned_pairs_and_refuse_data_without_them():
    from vq_zoo.data.parallel import ParallelPairs
    from vq_zoo.recipes.vctk import recipe
    from vq_zoo.recipes.vctk.config import CONFIGS

    rng = np.random.default_rng(4)
    lengths = [30, 34, 28, 33]
    audios = [rng.uniform(-0.1, 0.1, n * 160).astype("float32") for n in lengths]
    speakers = np.array([0, 1, 0, 1], "int32")
    rows = [np.concatenate([rng.normal(size=(n, 2)), rng.normal(size=(n, 30))], 1)
            .astype("float32") for n in lengths]
    pairs = ParallelPairs([r[:, 2:] for r in rows], ["a", "a", "b", "b"], speakers, 26)
    out = recipe.split_frames(recipe.random_crops(audios, speakers, 1600, 6, rng,
                                                  rows, 160, pairs))
    audio, spk, contour, features, other, other_features = out
    assert audio.shape == (6, 1600, 1) and contour.shape == (6, 10, 2)
    assert features.shape == other_features.shape == (6, 10, 30)
    np.testing.assert_array_equal(other, 1 - spk)
    # Each pair's frames are rows of its partner's features (the same sentence).
    for f, s in zip(other_features, other):
        partner = [r[:, 2:] for r, t, k in zip(rows, "aabb", speakers) if k == s]
        assert any(all((row == p).all(1).any() for row in f) for p in partner)
    with pytest.raises(ValueError, match="swap_weight=1.0 trains conversions on parallel "
                                         "pairs of WORLD features: it needs"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke"], swap_weight=1.0))
    recipe.check_config(dataclasses.replace(CONFIGS["smoke"], swap_weight=1.0,
                                            vocoder="world", pitch_condition=True))
    # Config `small` trains on pairs: another source names the switch.
    with pytest.raises(ValueError, match=r"data='tfds' \(or set swap_weight=0\)"):
        recipe.check_config(dataclasses.replace(CONFIGS["small"], data="tfds"))
    recipe.check_config(dataclasses.replace(CONFIGS["small"], data="tfds", swap_weight=0.0))
    with pytest.raises(ValueError, match="swap_alignment_cepstra=80 must be fewer than the "
                                         r"envelope's num_bands \(80\)"):
        recipe.check_config(dataclasses.replace(CONFIGS["smoke"], swap_weight=1.0,
                                                vocoder="world", pitch_condition=True,
                                                swap_alignment_cepstra=80))
    with pytest.raises(ValueError, match="needs the offline corpus"):
        recipe.parallel_pairs(dataclasses.replace(CONFIGS["smoke"], swap_weight=1.0),
                              {"train": (audios, speakers)}, None, {"train": rows}, "train")


@pytest.mark.parametrize("trains_encoder", [True, False])
def test_swap_trains_encoder_decides_whether_the_encoder_gets_its_gradient(trains_encoder):
    import tensorflow as tf

    rng = np.random.default_rng(5)
    m = model(swap_trains_encoder=trains_encoder)
    data = batch(rng)
    with tf.GradientTape() as tape:
        scalars, _ = m.compute_loss_terms(data, training=False)
        swap = scalars["swap_loss"]
    encoder_grads = tape.gradient(swap, m.encoder.trainable_weights)
    with tf.GradientTape() as tape:
        scalars, _ = m.compute_loss_terms(data, training=False)
    decoder_grads = tape.gradient(scalars["swap_loss"], m.decoder.trainable_weights)
    encoder_norm = sum(float(tf.reduce_sum(tf.abs(g))) for g in encoder_grads if g is not None)
    assert (encoder_norm > 0) == trains_encoder
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in decoder_grads if g is not None) > 0
    config = m.get_config()
    assert config["swap_trains_encoder"] is trains_encoder
    assert SpectrogramVQVAE.from_config(config).swap_trains_encoder is trains_encoder
