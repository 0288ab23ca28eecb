"""vq_zoo.data.world against signals whose envelope, periodicity and pitch
are known by construction, and YIN (vq_zoo.data.pitch) as an independent
pitch tracker of what WORLD synthesises."""

import numpy as np
import pytest

from vq_zoo.data import world

RATE = 16000


def envelope_db(freq):
    """A smooth two-formant envelope (dB) the test voice is built with."""
    return (-0.004 * freq / 10 + 20 * np.exp(-((freq - 700) / 250) ** 2)
            + 14 * np.exp(-((freq - 2200) / 400) ** 2))


def voice(f0=150.0, seconds=0.6):
    """Harmonics of `f0` up to 7.5 kHz, each at `envelope_db` of its
    frequency."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for k in range(1, int(7500 // f0) + 1):
        out += 10 ** (envelope_db(k * f0) / 20) * np.sin(2 * np.pi * k * f0 * t + k)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def test_the_envelope_follows_the_voice_s_formants_and_periodicity_its_harmonics():
    audio = voice()
    f0 = np.full(1 + audio.size // 160, 150.0)
    feats = world.features(audio, f0, RATE, 160, num_bands=40, num_aperiodicity_bands=6)
    assert feats.shape == (f0.size, 46) and feats.dtype == np.float32
    middle = feats[10:-10]
    freqs = world.band_frequencies(40, RATE)
    inside = (freqs > 300) & (freqs < 7000)
    measured = middle[:, :40].mean(0)[inside] * 20 / np.log(10)  # nats -> dB
    truth = envelope_db(freqs[inside])
    assert np.corrcoef(measured, truth)[0, 1] > 0.95
    # The same shape, not only the same trend: within 4 dB once levelled.
    np.testing.assert_allclose(measured - measured.mean(), truth - truth.mean(), atol=4.0)
    low = world.band_frequencies(6, RATE) < 4000
    assert middle[:, 40:][:, low].mean() > 0.8       # periodic where there are harmonics
    noise = np.random.default_rng(0).normal(0, 0.1, audio.size).astype(np.float32)
    noisy = world.features(noise, np.zeros_like(f0), RATE, 160, 40, 6)
    assert noisy[10:-10, 40:].mean() < 0.2           # aperiodic noise


def test_silence_is_zero_and_synthesis_is_voiced_at_the_given_f0():
    from vq_zoo.data.pitch import yin

    silent = world.features(np.zeros(3200, np.float32), np.zeros(21), RATE, 160)
    assert np.abs(silent).max() < 1e-6  # zero frames are silence: padded crops ask for it
    audio = voice(f0=150.0)
    frames = audio.size // 160
    feats = world.features(audio, np.full(frames + 1, 150.0), RATE, 160)[:frames]
    for target in (150.0, 220.0):
        out = world.synthesize(feats, np.full(frames, target), RATE, 160)
        assert out.shape == (frames * 160,) and out.dtype == np.float32
        f0, voiced, _ = yin(out, RATE, 160)
        assert voiced[10:-10].mean() > 0.9
        np.testing.assert_allclose(np.median(f0[10:-10][voiced[10:-10]]), target, rtol=0.03)
    again = world.features(world.synthesize(feats, np.full(frames, 150.0), RATE, 160),
                           np.full(frames + 1, 150.0), RATE, 160)[:frames]
    inside = (world.band_frequencies(80, RATE) > 300) & (world.band_frequencies(80, RATE) < 7000)
    a, b = feats[10:-10, :80][:, inside].mean(0), again[10:-10, :80][:, inside].mean(0)
    assert np.abs((a - a.mean()) - (b - b.mean())).max() < 0.5  # nats: the envelope survives
    quiet = world.synthesize(np.zeros((20, 88), np.float32), np.zeros(20), RATE, 160)
    assert np.abs(quiet).max() < 1e-3


def test_finer_synthesis_frames_follow_a_glide_and_start_voicing_between_frames():
    from vq_zoo.data.pitch import yin

    audio = voice(f0=150.0)
    frames = audio.size // 160
    feats = world.features(audio, np.full(frames + 1, 150.0), RATE, 160)[:frames]
    glide = np.linspace(150.0, 240.0, frames)  # from the analysed voice's 150 Hz up
    glide[:8] = 0.0                                    # unvoiced at the start
    for upsample in (1, 2, 4):
        out = world.synthesize(feats, glide, RATE, 160, upsample=upsample)
        assert out.shape == (frames * 160,) and out.dtype == np.float32
        f0, voiced, _ = yin(out, RATE, 160)
        inner = slice(14, frames - 4)
        assert voiced[inner].mean() > 0.9
        # YIN (an independent tracker) hears the glide within 3%.
        np.testing.assert_allclose(f0[inner][voiced[inner]], glide[inner][voiced[inner]],
                                   rtol=0.03)
        assert not voiced[:6].any()                   # noise where F0 is 0
    # The finer frames: the given frames at every `upsample`-th, linear
    # between two voiced frames, the nearer one's F0 next to an unvoiced one.
    fine, fine_f0 = world._finer_frames(feats[:12], glide[:12], 4)
    assert fine.shape == (12 * 4 + 1, feats.shape[1]) and fine_f0.shape == (49,)
    np.testing.assert_allclose(fine[0:48:4], feats[:12])
    np.testing.assert_allclose(fine[1], 0.75 * feats[0] + 0.25 * feats[1])
    np.testing.assert_allclose(fine_f0[0:48:4], glide[:12])
    assert fine_f0[29] == 0.0 and fine_f0[30] == glide[8] and fine_f0[31] == glide[8]
    np.testing.assert_allclose(fine_f0[34], 0.5 * (glide[8] + glide[9]))
    np.testing.assert_allclose(fine[48], feats[11])    # the last frame held
    with pytest.raises(ValueError, match="`upsample` must be an int in"):
        world.synthesize(feats, glide, RATE, 160, upsample=3)


def test_harvest_tracks_a_voice_and_not_noise():
    audio = voice(f0=200.0, seconds=0.8)
    f0 = world.track_f0(audio, RATE, 160)
    assert f0.shape == (1 + audio.size // 160,)
    voiced = f0[10:-10] > 0
    assert voiced.mean() > 0.9
    np.testing.assert_allclose(np.median(f0[10:-10][voiced]), 200.0, rtol=0.02)
    assert (world.track_f0(np.zeros(4000, np.float32), RATE, 160) == 0).all()


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=r"`f0` must be \(21,\)"):
        world.features(np.zeros(3200, np.float32), np.zeros(20), RATE, 160)
    with pytest.raises(ValueError, match="finite Hz >= 0"):
        world.features(np.zeros(3200, np.float32), np.full(21, -1.0), RATE, 160)
    with pytest.raises(ValueError, match="one non-empty clip"):
        world.features(np.zeros((2, 3200), np.float32), np.zeros(21), RATE, 160)
    with pytest.raises(ValueError, match=r"`feature_frames` must be \(frames, 80"):
        world.synthesize(np.zeros((5, 80)), np.zeros(5))
    with pytest.raises(ValueError, match=r"`f0` must be \(5,\)"):
        world.synthesize(np.zeros((5, 88)), np.zeros(4))


def test_corpus_analysis_caches_and_recomputes_what_changed(tmp_path, monkeypatch):
    audios = [voice(seconds=0.2), voice(f0=200.0, seconds=0.3)]
    path = tmp_path / "world.npz"
    first = world.corpus_analysis(audios, str(path), num_bands=20, num_aperiodicity_bands=4)
    assert [x.shape for _, x in first] == [(21, 24), (31, 24)]
    calls = []
    real = world.analyze
    monkeypatch.setattr(world, "analyze", lambda *a, **k: calls.append(1) or real(*a, **k))
    cached = world.corpus_analysis(audios, str(path), num_bands=20, num_aperiodicity_bands=4)
    assert not calls
    for (f0, x), (g0, y) in zip(first, cached):
        np.testing.assert_array_equal(f0, g0)
        np.testing.assert_array_equal(x, y)
    world.corpus_analysis(audios[:1], str(path), num_bands=20, num_aperiodicity_bands=4)
    assert len(calls) == 1  # other audio: computed again
    path.write_bytes(b"not an npz")
    world.corpus_analysis(audios[:1], str(path), num_bands=20, num_aperiodicity_bands=4)
    assert len(calls) == 2


def test_sharpening_moves_peaks_from_their_neighbourhood_and_keeps_the_rest():
    frames = np.zeros((3, 30 + 4))
    frames[0, :30] = 5.0 + 0.1 * np.arange(30)          # a straight slope: no formant
    frames[1, :30] = 5.0
    frames[1, 15] = 8.0                                  # one peak, 3 nats over flat
    frames[2, 10:20] = 4.0                               # silence around a block
    frames[:, 30:] = 0.7                                 # periodicity
    same = world.sharpen_envelope(frames, 30, 0.0)
    np.testing.assert_array_equal(same, frames)
    out = world.sharpen_envelope(frames, 30, 1.0, width=9)
    np.testing.assert_allclose(out[0, 4:26], frames[0, 4:26], atol=1e-12)  # inside the edges
    # The peak's 9-band mean is 5 + 3/9: it moves once more that far away.
    np.testing.assert_allclose(out[1, 15], 8.0 + (8.0 - (5.0 + 3.0 / 9)))
    assert out[1, 12] < 5.0  # its neighbours dip: the formant narrows
    assert (out[2, :10] == 0).all() and (out[2, 20:30] == 0).all()  # silence stays
    np.testing.assert_array_equal(out[:, 30:], frames[:, 30:])
    with pytest.raises(ValueError, match="`amount` must be >= 0"):
        world.sharpen_envelope(frames, 30, -1.0)
