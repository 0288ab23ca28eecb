"""SpectrogramVQVAE(cycle_weight=...): conversions decoded in other voices
are read back by the encoder from their WORLD envelope. Checked: the
encoder's envelope features agree with its STFT features on WORLD's own
analysis of a voiced signal (pyworld, independent of the encoder), the other
voices are uniform over the other speakers and never the source, the cycle's
gradient reaches the decoder and the encoder but not the codebook, and a
cycle-trained model fits, logs the term, saves and loads."""

import keras
import numpy as np
import pytest

from vq_zoo.data import world
from vq_zoo.models.spectrogram.spectrogram_encoder import SpectrogramEncoder
from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

STATS = ((np.log(110.0), 0.2), (np.log(240.0), 0.1), (np.log(160.0), 0.1))


def model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=3, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2,
                speaker_names=("low", "high", "mid"), crop_length=3200, seed=0,
                pitch_condition=True, pitch_statistics=STATS, vocoder="world",
                num_bands=20, num_aperiodicity_bands=4, cycle_weight=1.0)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def batch(rng, n=3):
    audio = rng.uniform(-0.5, 0.5, (n, 3200, 1)).astype("float32")
    speakers = (np.arange(n) % 3).astype("int32")
    pitch = np.stack([rng.normal(size=(n, 20)), np.ones((n, 20))], -1).astype("float32")
    target = rng.uniform(0, 5, (n, 20, 24)).astype("float32")
    return audio, speakers, pitch, target


def vowels(rate=16000):
    """Speech-like audio: /a/, a pause, /i/, /u/ (0.3 s each), each a
    glottal pulse train with a gliding F0 through three formant resonators."""
    from scipy.signal import lfilter

    parts = []
    for f0, formants in (((110, 140), (700, 1200, 2600)), (None, None),
                         ((140, 120), (300, 2300, 3000)), ((120, 100), (320, 800, 2400))):
        n = int(0.3 * rate)
        if f0 is None:
            parts.append(np.zeros(n))
            continue
        phase = np.cumsum(np.linspace(f0[0], f0[1], n) / rate)
        x = np.diff(np.floor(phase), prepend=0.0)
        for centre in formants:
            r = np.exp(-np.pi * 100.0 / rate)
            x = lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * centre / rate), r * r], x)
        parts.append(0.5 * x / np.abs(x).max())
    return np.concatenate(parts).astype("float32")


def test_envelope_features_of_world_analysis_agree_with_the_stft_features():
    pytest.importorskip("pyworld")
    audio = vowels()
    f0, frames = world.analyze(audio.astype("float64"))
    encoder = SpectrogramEncoder(8, 4, num_mels=80, normalize="utterance")
    from_audio = np.asarray(encoder.features(keras.ops.convert_to_tensor(
        audio[None, :, None])))[0]
    from_envelope = np.asarray(encoder.envelope_features(keras.ops.convert_to_tensor(
        frames[None, :, :80])))[0]
    n = min(len(from_audio), len(from_envelope))
    # Frames away from the clip's edges (the STFT's zero padding).
    a, e = from_audio[5:n - 5], from_envelope[5:n - 5]
    a, e = a - a.mean(0), e - e.mean(0)
    assert np.corrcoef(a.ravel(), e.ravel())[0, 1] > 0.9  # measured 0.98
    assert np.abs(a - e).mean() < 0.6  # nats; measured 0.31
    # Without the utterance normalisation: the same bands, levels included.
    raw = SpectrogramEncoder(8, 4, num_mels=80, normalize="none")
    ra = np.asarray(raw.features(keras.ops.convert_to_tensor(audio[None, :, None])))[0]
    re = np.asarray(raw.envelope_features(keras.ops.convert_to_tensor(
        frames[None, :, :80])))[0]
    ra, re = ra[5:n - 5].mean(0), re[5:n - 5].mean(0)
    assert np.corrcoef(ra, re)[0, 1] > 0.9  # measured 0.97; bands reversed: -0.81
    assert np.abs(ra - re).mean() < 0.8  # measured 0.42


def test_other_speakers_are_uniform_over_the_others_and_never_the_source():
    m = model(num_speakers=4, speaker_names=None, pitch_statistics=STATS + STATS[:1])
    speakers = np.tile(np.arange(4, dtype="int32"), 3000)
    others = np.asarray(m.other_speakers(speakers))
    assert not np.any(others == speakers)
    for s in range(4):
        counts = np.bincount(others[speakers == s], minlength=4)
        share = np.delete(counts, s) / counts.sum()
        np.testing.assert_allclose(share, 1 / 3, atol=0.04)


def test_the_cycle_trains_the_decoder_and_encoder_never_the_codebook():
    import tensorflow as tf

    m = model(ema=False)
    audio, speakers, pitch, _ = batch(np.random.default_rng(0))
    with tf.GradientTape() as tape:
        vq = m.quantizer(m.encoder(audio, training=True), training=True)
        cycle = m.cycle_loss(vq["quantized"], speakers, pitch, training=True)
    weights = (m.decoder.trainable_weights + m.encoder.trainable_weights
               + [m.quantizer.codebook])
    grads = tape.gradient(cycle, weights)
    dec = grads[:len(m.decoder.trainable_weights)]
    enc = grads[len(dec):-1]
    assert float(cycle) > 0
    assert any(g is not None and float(tf.norm(g)) > 0 for g in dec)
    assert all(g is not None for g in enc) and sum(float(tf.norm(g)) for g in enc) > 0
    assert grads[-1] is None or not np.any(np.asarray(grads[-1]))
    # Encoder only: nothing reaches the decoder.
    m = model(ema=False, cycle_trains_decoder=False)
    with tf.GradientTape() as tape:
        vq = m.quantizer(m.encoder(audio, training=True), training=True)
        cycle = m.cycle_loss(vq["quantized"], speakers, pitch, training=True)
    grads = tape.gradient(cycle, m.decoder.trainable_weights + m.encoder.trainable_weights)
    dec = grads[:len(m.decoder.trainable_weights)]
    assert all(g is None or not np.any(np.asarray(g)) for g in dec)
    assert sum(float(tf.norm(g)) for g in grads[len(dec):]) > 0


def test_a_cycle_model_fits_logs_the_term_and_round_trips(tmp_path):
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = batch(np.random.default_rng(1))
    history = m.fit(data, batch_size=3, epochs=3, verbose=0).history
    assert len(history["cycle_loss"]) == 3 and np.all(np.isfinite(history["cycle_loss"]))
    path = tmp_path / "c.keras"
    m.save(path)
    again = keras.models.load_model(path)
    assert (again.cycle_weight, again.seed, again.cycle_trains_decoder) == (1.0, 0, True)
    with pytest.raises(ValueError, match="`cycle_trains_decoder` must be True or False"):
        model(cycle_trains_decoder="no")
    codes = m.encode(data[0])
    np.testing.assert_array_equal(np.asarray(again.encode(data[0])), np.asarray(codes))
    # A model without the cycle holds no seed state and saves no such key,
    # so the presets saved before it load unchanged.
    plain = model(cycle_weight=0.0)
    assert plain.seed_generator is None and "cycle_weight" not in plain.get_config()
    assert "cycle_loss" not in plain.compute_loss_terms(data, training=True)[0]


def test_the_cycle_is_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="needs vocoder='world'"):
        model(vocoder="griffin_lim", pitch_condition=False, pitch_statistics=None)
    with pytest.raises(ValueError, match="`cycle_weight` must be a number >= 0"):
        model(cycle_weight=-1.0)
    with pytest.raises(ValueError, match="at least 2 speakers"):
        model(num_speakers=1, speaker_names=None, pitch_statistics=STATS[:1])
