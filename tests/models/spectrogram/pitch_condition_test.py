"""SpectrogramDecoder / SpectrogramVQVAE with `pitch_condition`: off, the
decoder is what it was; on, the contour is an additive input whose effect
stays within the receptive field, shapes, saving, one fit step, the
refusals, and the speech family's sampling and conversion with contours."""

import keras
import numpy as np
import pytest

from tests.harness import run_serialization_test
from vq_zoo.models.family import FamilyError
from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE

STATS = ((4.8, 0.2), (5.3, 0.15))


def decoder(pitch_condition, **kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=2, filters=8, num_blocks=3, dilation_cycle=2, jitter=0.0,
                pitch_condition=pitch_condition)
    args.update(kwargs)
    return SpectrogramDecoder(**args)


def inputs(codes=12, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    latents = rng.normal(size=(batch, codes, 4)).astype("float32")
    speakers = np.arange(batch, dtype="int32") % 2
    pitch = np.stack([rng.normal(size=(batch, 2 * codes)),
                      rng.integers(0, 2, (batch, 2 * codes))], axis=-1).astype("float32")
    return latents, speakers, pitch


def test_off_is_the_decoder_it_was():
    off = decoder(False)
    latents, speakers, pitch = inputs()
    out = np.asarray(off(latents, speakers))
    assert "pitch_condition" not in off.get_config()  # saved configs unchanged
    assert not any("pitch" in w.path for w in off.weights)
    with pytest.raises(ValueError, match="pitch_condition=False: pass no `pitch`"):
        off(latents, speakers, pitch=pitch)
    # On, with the off decoder's weights and a zero pitch projection: the
    # same output whatever the contour (the contour only adds a term).
    on = decoder(True)
    on(latents, speakers, pitch=pitch)
    def key(w):  # the path below the decoder's own (auto-numbered) name
        return w.path.split("/", 1)[1]

    shared = {key(w): w for w in off.weights}
    assert len(shared) == len(off.weights)
    for w in on.weights:
        w.assign(shared[key(w)] if key(w) in shared else np.zeros(w.shape, "float32"))
    np.testing.assert_allclose(np.asarray(on(latents, speakers, pitch=pitch)), out,
                               atol=1e-5)
    assert len(on.weights) == len(off.weights) + 2  # pitch_conv kernel and bias


def test_pitch_changes_only_the_frames_within_reach():
    dec = decoder(True, num_blocks=4, dilation_cycle=2)
    latents, speakers, pitch = inputs(codes=20)
    base = np.asarray(dec(latents, speakers, pitch=pitch))
    assert base.shape == (2, 40, 257)
    t = 17
    moved = pitch.copy()
    moved[:, t, 0] += 3.0
    changed = np.abs(np.asarray(dec(latents, speakers, pitch=moved)) - base).max(axis=(0, 2))
    # Reach: the pitch convolution (window 3) and each block's dilated
    # convolution (window 3, dilation d) widen it by 1 and d frames.
    reach = 1 + sum(dec.dilation_rates)
    assert changed[t] > 1e-4
    assert np.all(changed[:t - reach] == 0) and np.all(changed[t + reach + 1:] == 0)
    assert changed[t - reach] > 0 or changed[t + reach] > 0


def test_shapes_and_refusals():
    dec = decoder(True)
    latents, speakers, pitch = inputs(codes=5)
    with pytest.raises(ValueError, match="conditioned on the source's pitch contour"):
        dec(latents, speakers)
    with pytest.raises(ValueError, match=r"`pitch` must be \(batch, 10, 2\)"):
        dec(latents, speakers, pitch=pitch[:, :9])
    with pytest.raises(ValueError, match="pitch_statistics` must be 2 pairs"):
        decoder(True, pitch_statistics=[(5.0, 0.1)])
    with pytest.raises(ValueError, match="only for a decoder with pitch_condition=True"):
        decoder(False, pitch_statistics=STATS)
    with pytest.raises(ValueError, match="`pitch_condition` must be a bool"):
        decoder("yes")


def test_pitch_features_normalise_by_the_source_speaker():
    dec = decoder(True, pitch_statistics=STATS, speaker_names=("low", "high"))
    f0 = np.array([0.0, np.exp(5.3), np.exp(5.6)])
    voiced = np.array([False, True, True])
    np.testing.assert_allclose(dec.pitch_features(f0, voiced, "high"),
                               [[0, 0], [0, 1], [2, 1]], atol=1e-5)
    np.testing.assert_allclose(dec.pitch_features(f0, voiced, 0)[1:, 0],
                               [2.5, 4.0], atol=1e-5)
    with pytest.raises(ValueError, match="no pitch statistics"):
        decoder(True).pitch_features(f0, voiced, 0)


def model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=2, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2,
                speaker_names=("a", "b"), crop_length=1280, seed=0,
                pitch_condition=True, pitch_statistics=STATS)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def batch(n=2):
    rng = np.random.default_rng(1)
    audio = rng.uniform(-0.5, 0.5, (n, 1280, 1)).astype("float32")
    pitch = np.stack([rng.normal(size=(n, 8)), np.ones((n, 8))], -1).astype("float32")
    return audio, np.arange(n, dtype="int32") % 2, pitch


def test_model_fits_decodes_and_saves(tmp_path):
    m = model()
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    audio, speakers, pitch = batch()
    before = [np.array(w) for w in m.decoder.pitch_conv.weights]
    logs = m.fit((audio, speakers, pitch), batch_size=2, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])
    # The step trained the pitch projection.
    assert any(np.abs(np.array(w) - b).max() > 0
               for w, b in zip(m.decoder.pitch_conv.weights, before))
    with pytest.raises(ValueError, match=r"batches must be \(audio, speakers, pitch"):
        m.compute_loss_terms((audio, speakers), training=False)
    codes = np.asarray(m.encode(audio))
    frames = m.decode_frames(codes, speakers, pitch=pitch)
    assert frames.shape == (2, 8, 257)
    assert np.abs(m.decode_frames(codes, speakers, pitch=-pitch) - frames).max() > 1e-5
    # From Python: a ValueError naming what is missing and its shape; not
    # the CLI's refusal (the speech family words that).
    with pytest.raises(ValueError, match=r"pitch-conditioned .*pass `pitch`, float "
                                         r"\(2, 8, 2\)") as raised:
        m.decode(codes, speakers)
    assert not isinstance(raised.value, FamilyError)
    assert "vq-zoo" not in str(raised.value)
    with pytest.raises(ValueError, match=r"`pitch` must be \(2, 8, 2\)"):
        m.decode_frames(codes, speakers, pitch=pitch[:, :4])
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.decoder.pitch_statistics == STATS
    np.testing.assert_array_equal(loaded.decode_frames(codes, speakers, pitch=pitch),
                                  frames)


def test_config_round_trip():
    dec = decoder(True, pitch_statistics=STATS)
    run_serialization_test(dec)
    clone = SpectrogramDecoder.from_config(dec.get_config())
    assert clone.pitch_condition and clone.pitch_statistics == STATS
    off = SpectrogramDecoder.from_config(decoder(False).get_config())
    assert not off.pitch_condition and off.pitch_conv is None


def test_an_off_model_refuses_a_pitch_at_decoding():
    m = model(pitch_condition=False, pitch_statistics=None)
    audio, speakers, pitch = batch()
    codes = np.asarray(m.encode(audio))
    with pytest.raises(ValueError, match="pitch_condition=False: pass no `pitch`"):
        m.decode_frames(codes, speakers, pitch=pitch)
    # A third batch element is a sample weight to Keras: ignored, as before.
    a = m.compute_loss_terms((audio, speakers), training=False)[0]["reconstruction_loss"]
    b = m.compute_loss_terms((audio, speakers, np.ones(2)), training=False)[0]
    np.testing.assert_allclose(float(a), float(b["reconstruction_loss"]))


def test_the_speech_family_samples_with_stored_contours_and_converts_a_file(tmp_path):
    from vq_zoo.models.gated_pixelcnn.gated_pixelcnn_1d_prior import GatedPixelCNN1DPrior
    from vq_zoo.models.wavenet.family import SpeechVQVAEFamily
    from vq_zoo.utils.audio import write_wav

    prior = GatedPixelCNN1DPrior(8, 4, filters=8, dilation_rates=(1,), num_classes=2)
    with pytest.raises(FamilyError, match="stores no sample contours") as raised:
        SpeechVQVAEFamily(model(), prior).sample(1, speaker="a")
    assert "\n" not in str(raised.value)
    rising = np.stack([np.linspace(-2, 2, 5), np.ones(5)], 1)
    falling = rising * [[-1, 1]]
    samples = {}
    for name, contour in (("rising", rising), ("falling", falling)):
        m = model(sample_contours=[contour, contour])
        # The contour is repeated to the sample's 8 frames (4 codes x 2).
        np.testing.assert_allclose(m.decoder.sample_contour("a", 8)[5:], contour[:3])
        family = SpeechVQVAEFamily(m, prior)
        samples[name] = family.sample(2, seed=0, speaker="a").audio
        assert samples[name].shape == (2, 4 * m.hop_length)
    # Same codes (same prior, seed), another stored contour: other audio.
    assert np.abs(samples["rising"] - samples["falling"]).max() > 1e-4
    with pytest.raises(ValueError, match="must be 2 contours"):
        model(sample_contours=[rising])
    wav = str(tmp_path / "in.wav")
    write_wav(wav, batch(1)[0][0, :1000, 0], 16000)
    audio, rate = SpeechVQVAEFamily.convert_speech(model(), "run", wav, "b")
    assert rate == 16000 and audio.shape == (1000,)


def test_a_clip_s_own_contour_is_centred_on_its_own_pitch():
    dec = decoder(True, pitch_statistics=STATS, speaker_names=("low", "high"))
    t = np.arange(6400) / 16000
    f0 = 140 * 2 ** (0.5 * np.sin(2 * np.pi * 2 * t))  # +-half an octave, 2 Hz
    clip = 0.4 * np.sin(2 * np.pi * np.cumsum(f0) / 16000) + 0.1 * np.sin(
        4 * np.pi * np.cumsum(f0) / 16000)
    own = dec.contour_of(clip)
    assert own.shape == (40, 2) and own[5:-5, 1].all()
    z = own[own[:, 1] > 0, 0]
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-3
    # Its z tracks the sinusoid it was made with.
    truth = np.log(f0[::160][:40])
    assert np.corrcoef(own[5:-5, 0], truth[5:-5])[0, 1] > 0.95
    # By a named speaker's statistics instead: (log f0 - 5.3) / 0.15.
    by_high = dec.contour_of(clip, "high")
    np.testing.assert_allclose(by_high[5:-5, 0], (truth[5:-5] - 5.3) / 0.15, atol=0.7)


