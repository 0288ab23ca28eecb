"""SpectrogramDecoder / SpectrogramVQVAE with vocoder="world": batches carry
the WORLD features the decoder is fit to, the loss is their mean absolute
error, and the audio is voiced at the contour's F0 in the target speaker's
range (measured by YIN, an independent tracker)."""

import keras
import numpy as np
import pytest

from vq_zoo.data import world
from vq_zoo.data.pitch import yin
from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

STATS = ((np.log(110.0), 0.2), (np.log(240.0), 0.1))


def model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2,
                speaker_names=("low", "high"), crop_length=3200, seed=0,
                pitch_condition=True, pitch_statistics=STATS, vocoder="world",
                num_bands=20, num_aperiodicity_bands=4)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def voice_frame_decoder(m):
    """`m` with a decoder whose every frame is a real voice frame's WORLD
    features (the output layer's bias; no kernel): the audio's pitch is
    then only the contour's, in the speaker's range."""
    t = np.arange(6400) / 16000
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 40)).astype("float32")
    frame = world.features(0.3 * voice / np.abs(voice).max(), np.full(41, 150.0), 16000,
                           160, 20, 4)[20]
    kernel, bias = m.decoder.output_conv.weights
    kernel.assign(np.zeros(kernel.shape, "float32"))
    bias.assign(frame)
    return m


def test_world_needs_the_pitch_condition_and_a_known_vocoder():
    with pytest.raises(ValueError, match="vocoder='world' needs pitch_condition=True"):
        SpectrogramDecoder(2, vocoder="world")
    with pytest.raises(ValueError, match="`vocoder` must be one of"):
        SpectrogramDecoder(2, vocoder="wavenet")
    dec = SpectrogramDecoder(2, pitch_condition=True, vocoder="world", num_bands=30,
                             num_aperiodicity_bands=5)
    assert dec.num_bins == 35
    clone = SpectrogramDecoder.from_config(dec.get_config())
    assert (clone.vocoder, clone.num_bands, clone.num_aperiodicity_bands) == ("world", 30, 5)
    assert "vocoder" not in SpectrogramDecoder(2).get_config()  # old configs unchanged


def test_the_loss_is_the_mean_absolute_error_of_the_given_features():
    m = model()
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.5, 0.5, (2, 3200, 1)).astype("float32")
    speakers = np.array([0, 1], "int32")
    pitch = np.stack([rng.normal(size=(2, 20)), np.ones((2, 20))], -1).astype("float32")
    target = rng.uniform(0, 5, (2, 20, 24)).astype("float32")
    with pytest.raises(ValueError, match=r"batches must be \(audio, speakers, pitch .*"
                                         r"features \(batch, frames, 24\)"):
        m.compute_loss_terms((audio, speakers, pitch), training=False)
    predicted = np.asarray(m((audio, speakers, pitch, target), training=False))
    loss = m.compute_loss_terms((audio, speakers, pitch, target), training=False)[0]
    np.testing.assert_allclose(float(loss["reconstruction_loss"]),
                               np.abs(predicted - target).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"must be \(batch, 20, 24\)"):
        m.compute_loss_terms((audio, speakers, pitch, target[:, :10]), training=False)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = m.fit((audio, speakers, pitch, target), batch_size=2, epochs=30,
                    verbose=0).history["reconstruction_loss"]
    assert history[-1] < 0.7 * history[0]


def test_decoding_voices_the_contour_in_the_target_speaker_s_range():
    m = voice_frame_decoder(model())
    codes = np.zeros((2, 20), "int32")
    pitch = np.zeros((2, 40, 2), "float32")
    pitch[:, :, 1] = 1.0                       # voiced at each speaker's mean log F0
    audio = np.asarray(m.decode(codes, condition=[0, 1], pitch=pitch))
    assert audio.shape == (2, 6400, 1)
    for clip, hz in zip(audio[..., 0], (110.0, 240.0)):
        f0, voiced, _ = yin(clip, 16000, 160)
        assert voiced[5:-5].mean() > 0.9
        np.testing.assert_allclose(np.median(f0[5:-5][voiced[5:-5]]), hz, rtol=0.03)
    pitch[1, :, 0] = 1.0                      # one spread above: 240 * e^0.1
    high = np.asarray(m.decode(codes[1:], condition=[1], pitch=pitch[1:]))[0, :, 0]
    f0, voiced, _ = yin(high, 16000, 160)
    np.testing.assert_allclose(np.median(f0[5:-5][voiced[5:-5]]), 240 * np.exp(0.1),
                               rtol=0.03)
    pitch[0, :, 1] = 0.0                      # unvoiced: noise, no pitch
    f0, voiced, _ = yin(np.asarray(m.decode(codes[:1], condition=[0],
                                            pitch=pitch[:1]))[0, :, 0], 16000, 160)
    assert voiced.mean() < 0.2


def test_envelope_sharpening_is_a_world_setting_that_saves():
    with pytest.raises(ValueError, match="for vocoder='world' only"):
        SpectrogramDecoder(2, envelope_sharpening=1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        SpectrogramDecoder(2, pitch_condition=True, vocoder="world", envelope_sharpening=-1)
    dec = SpectrogramDecoder(2, pitch_condition=True, vocoder="world", envelope_sharpening=1.5)
    assert SpectrogramDecoder.from_config(dec.get_config()).envelope_sharpening == 1.5


def test_synthesis_upsample_is_a_world_setting_that_saves_and_voices_the_same_pitch():
    with pytest.raises(ValueError, match="for vocoder='world' only"):
        SpectrogramDecoder(2, synthesis_upsample=2)
    with pytest.raises(ValueError, match="must divide frame_step 160"):
        SpectrogramDecoder(2, pitch_condition=True, vocoder="world", synthesis_upsample=3)
    with pytest.raises(ValueError, match="synthesis_upsample"):
        SpectrogramDecoder(2, pitch_condition=True, vocoder="world", synthesis_upsample=0)
    dec = SpectrogramDecoder(2, pitch_condition=True, vocoder="world", synthesis_upsample=2)
    assert SpectrogramDecoder.from_config(dec.get_config()).synthesis_upsample == 2
    # A config saved before the setting existed (no key) loads at 1.
    plain = SpectrogramDecoder(2, pitch_condition=True, vocoder="world").get_config()
    assert "synthesis_upsample" not in plain
    assert SpectrogramDecoder.from_config(plain).synthesis_upsample == 1
    # The decoded audio: the same length, voiced at the speaker's pitch (YIN).
    m = voice_frame_decoder(model(synthesis_upsample=2))
    codes = np.zeros((1, 20), "int32")
    pitch = np.zeros((1, 40, 2), "float32")
    pitch[:, :, 1] = 1.0
    audio = np.asarray(m.decode(codes, condition=[1], pitch=pitch))
    assert audio.shape == (1, 6400, 1)
    f0, voiced, _ = yin(audio[0, :, 0], 16000, 160)
    assert voiced[5:-5].mean() > 0.9
    np.testing.assert_allclose(np.median(f0[5:-5][voiced[5:-5]]), 240.0, rtol=0.03)
