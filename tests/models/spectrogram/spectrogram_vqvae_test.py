"""SpectrogramEncoder / SpectrogramDecoder / SpectrogramVQVAE: features
against NumPy, lengths, Griffin-Lim against the true magnitudes, the
speaker as a condition, saving, the confusion adversary and bad inputs."""

import keras
import numpy as np
import pytest

from tests.harness import run_serialization_test
from vq_zoo.models.spectrogram.speaker_adversary import SpeakerAdversary
from vq_zoo.models.spectrogram.spectrogram_decoder import SpectrogramDecoder
from vq_zoo.models.spectrogram.spectrogram_encoder import SpectrogramEncoder
from vq_zoo.models.spectrogram.spectrogram_vqvae import SpectrogramVQVAE
from vq_zoo.utils.audio_features import mel_filterbank


def small_model(**kwargs):
    keras.utils.set_random_seed(0)
    args = dict(num_speakers=3, num_hiddens=8, embedding_dim=4, num_embeddings=8,
                encoder_layers=1, num_mels=16, filters=8, num_blocks=2,
                speaker_names=("a", "b", "c"), crop_length=1280, seed=0)
    args.update(kwargs)
    return SpectrogramVQVAE.speech_model(**args)


def tone(freq, seconds=0.2, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype("float32")


def numpy_log_magnitude(audio, fft=512, hop=160, floor=1e-2):
    # Centred frames (reflect padding), periodic Hann window, as librosa.stft.
    padded = np.pad(audio, fft // 2, mode="reflect")
    frames = 1 + audio.size // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(fft) / fft)
    idx = np.arange(fft)[None] + hop * np.arange(frames)[:, None]
    mag = np.abs(np.fft.rfft(padded[idx] * window, axis=1))
    return np.log(mag[:-1] + floor)


def test_log_magnitude_matches_numpy_stft():
    audio = tone(440.0, 0.1) + 0.1 * tone(1234.0, 0.1)
    enc = SpectrogramEncoder(8, 4)
    ours = np.asarray(enc.log_magnitude(audio[None, :, None]))[0]
    ref = numpy_log_magnitude(audio)
    assert ours.shape == ref.shape == (10, 257)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_mel_filterbank_peaks_and_covers_the_band():
    bank = mel_filterbank(10, 512, 16000)
    assert bank.shape == (257, 10)
    np.testing.assert_allclose(bank.max(axis=0), 1.0, atol=0.05)
    # Centres increase; every bin between the first and last centre is covered.
    centres = bank.argmax(axis=0)
    assert np.all(np.diff(centres) > 0)
    assert np.all(bank[centres[0]:centres[-1] + 1].sum(axis=1) > 0)
    with pytest.raises(ValueError, match="need 0 <= low < high"):
        mel_filterbank(10, 512, 16000, low=9000)


@pytest.mark.parametrize("time", [320, 321, 999, 1280])
def test_lengths_codes_frames_and_audio(time):
    model = small_model()
    x = np.zeros((2, time, 1), "float32")
    codes = np.asarray(model.encode(x))
    steps = -(-time // 320)
    assert codes.shape == (2, steps) and codes.dtype == np.int32
    frames = model.decode_frames(codes, condition=[0, 2])
    assert frames.shape == (2, 2 * steps, 257)
    audio = model.decode(codes, condition=[0, 2])
    assert audio.shape == (2, steps * 320, 1) and np.all(np.abs(audio) <= 1.0)


def test_griffin_lim_recovers_a_tone_from_its_true_magnitudes():
    # The decoder's inversion, fed the encoder's own log magnitudes of a
    # tone: the audio's spectrum peaks at the tone's frequency.
    model = small_model(griffin_lim_iters=32)
    audio = tone(1000.0, 0.4)
    frames = np.asarray(model.encoder.log_magnitude(audio[None, :, None]))
    out = model.decoder.to_audio(frames, seed=0)[0]
    assert out.size == audio.size
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak = np.fft.rfftfreq(out.size, 1 / 16000)[spectrum.argmax()]
    assert abs(peak - 1000.0) < 20.0
    # Same energy as the tone within 2 dB.
    ratio = 10 * np.log10(np.mean(out ** 2) / np.mean(audio ** 2))
    assert abs(ratio) < 2.0


def test_the_speaker_conditions_the_decoder_and_the_encoder_ignores_it():
    model = small_model()
    x = np.random.default_rng(0).normal(0, 0.1, (1, 1280, 1)).astype("float32")
    codes = model.encode(x)
    a = model.decode_frames(codes, condition=[0])
    b = model.decode_frames(codes, condition=[1])
    assert np.abs(a - b).max() > 1e-4
    np.testing.assert_array_equal(model.decode_frames(codes, condition=[0]), a)


def test_fit_lowers_the_loss_and_saving_round_trips(tmp_path):
    model = small_model(adversary_weight=0.5)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    rng = np.random.default_rng(0)
    spk = np.array([0, 1, 2, 0], "int32")
    freqs = np.array([300.0, 600.0, 900.0])[spk]
    t = np.arange(1280) / 16000
    x = (0.4 * np.sin(2 * np.pi * freqs[:, None] * t)[..., None]
         + rng.normal(0, 0.01, (4, 1280, 1))).astype("float32")
    history = model.fit((x, spk), batch_size=4, epochs=30, verbose=0)
    losses = history.history["reconstruction_loss"]
    assert losses[-1] < 0.85 * losses[0]
    assert "speaker_adversary_loss" in history.history
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    codes = model.encode(x)
    np.testing.assert_array_equal(np.asarray(again.encode(x)), np.asarray(codes))
    np.testing.assert_allclose(again.decode_frames(codes, spk),
                               model.decode_frames(codes, spk), atol=1e-5)
    assert again.decoder.speaker_names == ("a", "b", "c")
    assert again.adversary is not None and again.adversary.weight == 0.5


def test_confusion_loss_reaches_the_encoder_not_the_adversary():
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    adversary = SpeakerAdversary(3, hidden=4, weight=1.0)
    z = tf.Variable(np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32"))
    adversary(z)
    with tf.GradientTape(persistent=True) as tape:
        classifier, confusion = adversary.losses_of(z, np.array([0, 2]))
    # The classifier term trains the adversary only; the confusion term the
    # latents only.
    assert tape.gradient(classifier, z) is None
    assert all(g is None for g in tape.gradient(confusion, adversary.trainable_weights))
    assert tape.gradient(confusion, z) is not None
    # Uniform predictions: the confusion loss is log(3), its minimum.
    zero = SpeakerAdversary(3, hidden=4, weight=1.0)
    zero(z)
    for w in zero.weights:
        w.assign(np.zeros(w.shape, "float32"))
    _, c = zero.losses_of(z, np.array([0, 1]))
    np.testing.assert_allclose(float(c), np.log(3.0), rtol=1e-6)


def test_bad_inputs_raise_one_line_errors():
    model = small_model()
    with pytest.raises(ValueError, match="expects float audio \\(batch, time, 1\\)"):
        model.encode(np.zeros((1, 320), "float32"))
    with pytest.raises(ValueError, match="trains on \\(audio, speakers\\) batches"):
        model._unpack(np.zeros((1, 320, 1), "float32"))
    codes = np.zeros((1, 2), "int32")
    with pytest.raises(ValueError, match="speaker 3 out of range: this model has 3"):
        model.decode(codes, condition=[3])
    with pytest.raises(ValueError, match="needs `condition`"):
        model.decode(codes)
    with pytest.raises(ValueError, match="unknown speaker 'zed'; known speakers: a, b, c"):
        model.decoder.speaker_index("zed")
    assert model.decoder.speaker_index("b") == 1
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        SpectrogramEncoder(8, 4, normalize="global")
    with pytest.raises(ValueError, match="`speaker_names` must be 2 distinct names"):
        SpectrogramDecoder(2, speaker_names=("a", "a"))
    with pytest.raises(ValueError, match="`frame_step` \\(160\\) and the decoder's \\(80\\)"):
        SpectrogramVQVAE(SpectrogramEncoder(8, 4), model.quantizer,
                         SpectrogramDecoder(3, frame_step=80))


def test_layer_configs_round_trip():
    model = small_model(adversary_weight=0.3)
    for layer in (model, model.encoder, model.decoder, model.adversary):
        run_serialization_test(layer)


def numpy_instance_normalize(x, epsilon=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=1, keepdims=True) + epsilon)


def test_instance_normalized_encoder_matches_a_numpy_forward_pass():
    keras.utils.set_random_seed(1)
    encoder = SpectrogramEncoder(8, 4, num_layers=2, num_mels=16, normalize="instance")
    audio = np.random.default_rng(0).normal(0, 0.3, (2, 1280, 1)).astype("float32")
    latents = keras.ops.convert_to_numpy(encoder(audio))
    # The reference: the same weights, the convolutions by NumPy, each
    # hidden layer normalised per channel over time.
    mel = keras.ops.convert_to_numpy(encoder.features(audio)).astype(np.float64)
    np.testing.assert_allclose(mel.mean(axis=1), 0.0, atol=1e-5)

    def conv(x, layer, stride=1, relu=True):
        kernel, bias = (w.astype(np.float64) for w in layer.get_weights())
        width = kernel.shape[0]
        steps = -(-x.shape[1] // stride)
        pad = max((steps - 1) * stride + width - x.shape[1], 0)
        x = np.pad(x, [(0, 0), (pad // 2, pad - pad // 2), (0, 0)])
        out = np.stack([np.einsum("bkc,kcd->bd", x[:, t * stride:t * stride + width], kernel)
                        for t in range(steps)], axis=1) + bias
        return np.maximum(out, 0.0) if relu else out

    x = mel
    for layer in encoder.convs:
        x = numpy_instance_normalize(conv(x, layer))
    x = numpy_instance_normalize(conv(x, encoder.strided, stride=encoder.frames_per_code))
    expected = conv(x, encoder.to_latents, relu=False)
    np.testing.assert_allclose(latents, expected, rtol=1e-4, atol=1e-4)


def test_instance_normalization_removes_each_channels_gain_and_offset():
    from vq_zoo.models.spectrogram.spectrogram_encoder import instance_normalize

    x = np.random.default_rng(2).normal(size=(3, 40, 5)).astype("float32")
    scale = np.array([0.5, 2.0, 7.0, 1.0, 3.0], "float32")
    offset = np.array([-4.0, 0.0, 1.5, 9.0, -0.5], "float32")
    plain = keras.ops.convert_to_numpy(instance_normalize(x))
    moved = keras.ops.convert_to_numpy(instance_normalize(x * scale + offset))
    np.testing.assert_allclose(plain, numpy_instance_normalize(x), atol=1e-5)
    np.testing.assert_allclose(moved, plain, atol=1e-4)
    model = small_model(normalize="instance")
    run_serialization_test(model.encoder)
    assert model.encoder.get_config()["normalize"] == "instance"


def test_cepstral_features_are_scipys_dct_of_the_log_mel_bands():
    import scipy.fft

    audio = np.random.default_rng(3).normal(0, 0.3, (2, 1600, 1)).astype("float32")
    mel = SpectrogramEncoder(8, 4, num_mels=24, normalize="none")
    mfcc = SpectrogramEncoder(8, 4, num_mels=24, normalize="utterance", num_cepstra=10)
    bands = keras.ops.convert_to_numpy(mel.features(audio)).astype(np.float64)
    expected = scipy.fft.dct(bands, type=2, norm="ortho", axis=-1)[..., :10]
    expected -= expected.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mfcc.features(audio)), expected,
                               atol=1e-4)
    assert tuple(mfcc(audio).shape) == (2, 5, 4)
    run_serialization_test(mfcc)
    with pytest.raises(ValueError, match="`num_cepstra` must be an integer in \\[0, num_mels=24\\]"):
        SpectrogramEncoder(8, 4, num_mels=24, num_cepstra=25)


def test_frequency_warp_interpolates_like_numpy_and_moves_a_tone():
    from vq_zoo.models.spectrogram.spectrogram_encoder import warp_frequencies

    rng = np.random.default_rng(4)
    magnitude = rng.random((3, 4, 257)).astype("float32")
    warp = np.array([0.85, 1.0, 1.2], "float32")
    out = keras.ops.convert_to_numpy(warp_frequencies(magnitude, warp))
    grid = np.arange(257)
    expected = np.array([[np.interp(grid * w, grid, frame) for frame in clip]
                         for clip, w in zip(magnitude, warp)])
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # A tone's peak at bin 96 is read at bin 96 / warp.
    tone = np.zeros((2, 1, 257), "float32")
    tone[:, :, 96] = 1.0
    peaks = keras.ops.convert_to_numpy(warp_frequencies(tone, [0.8, 1.2])).argmax(-1)
    np.testing.assert_array_equal(peaks[:, 0], [120, 80])


def test_frequency_warp_only_in_training():
    audio = np.random.default_rng(5).normal(0, 0.3, (4, 1600, 1)).astype("float32")
    warped = SpectrogramEncoder(8, 4, frequency_warp=0.2, seed=0)
    plain = SpectrogramEncoder(8, 4)
    warped.build(audio.shape)
    plain.build(audio.shape)
    plain.set_weights([w.numpy() for w in warped.trainable_weights])
    # Inference: the unwarped encoder's output, call after call.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(warped(audio)),
                               keras.ops.convert_to_numpy(plain(audio)), atol=1e-6)
    a = keras.ops.convert_to_numpy(warped(audio, training=True))
    b = keras.ops.convert_to_numpy(warped(audio, training=True))
    assert np.abs(a - keras.ops.convert_to_numpy(plain(audio))).max() > 1e-3
    assert np.abs(a - b).max() > 1e-3  # a new factor each call
    # Without the warp the encoder holds no seed state (presets saved before
    # it load unchanged); with it the setting round-trips.
    assert len(plain.weights) == len(plain.trainable_weights)
    run_serialization_test(warped)
    for bad in (-0.1, 0.5, True, "0.1"):
        with pytest.raises(ValueError, match="`frequency_warp` must be a number in \\[0, 0.5\\)"):
            SpectrogramEncoder(8, 4, frequency_warp=bad)


def test_a_warping_model_trains_saves_and_loads(tmp_path):
    model = small_model(frequency_warp=0.15)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    rng = np.random.default_rng(1)
    spk = np.array([0, 1, 2, 0], "int32")
    x = rng.normal(0, 0.2, (4, 1280, 1)).astype("float32")
    model.fit((x, spk), batch_size=4, epochs=2, verbose=0)
    path = tmp_path / "w.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert again.encoder.frequency_warp == 0.15
    np.testing.assert_array_equal(np.asarray(again.encode(x)), np.asarray(model.encode(x)))
