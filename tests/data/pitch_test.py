"""vq_zoo.data.pitch: the YIN tracker against tones of known pitch and
librosa's YIN, frames in step with the STFT frames and with crops, the
per-speaker normalisation, and the contour cache."""

import numpy as np
import pytest

from vq_zoo.data import pitch

RATE = 16000


def tone(freq, seconds=0.5, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def harmonic(f0_track):
    """A voice-like signal: 5 harmonics of a time-varying F0 (Hz per
    sample), amplitudes falling as 1/k."""
    phase = 2 * np.pi * np.cumsum(f0_track) / RATE
    return (0.2 * sum(np.sin(k * phase) / k for k in range(1, 6))).astype(np.float32)


@pytest.mark.parametrize("freq", [82.0, 147.3, 220.0, 411.0])
def test_pure_tones_are_voiced_at_their_pitch(freq):
    f0, voiced, aperiodicity = pitch.yin(tone(freq))
    assert f0.shape == voiced.shape == aperiodicity.shape == (1 + 8000 // 160,)
    inner = slice(5, -5)  # away from the zero padding at both ends
    assert voiced[inner].all()
    np.testing.assert_allclose(f0[inner], freq, rtol=0.005)
    assert np.all(aperiodicity[inner] < 0.05)


def test_silence_and_noise_are_unvoiced():
    f0, voiced, _ = pitch.yin(np.zeros(4000, np.float32))
    assert not voiced.any() and not f0.any()
    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    assert pitch.yin(noise)[1].mean() < 0.05
    # A tone, a silent gap, a tone: the gap's frames are unvoiced.
    gap = np.concatenate([tone(200, 0.3), np.zeros(4800, np.float32), tone(200, 0.3)])
    _, voiced, _ = pitch.yin(gap)
    assert voiced[5:25].all() and voiced[-25:-5].all()
    assert not voiced[35:55].any()  # samples 5,600-8,800 are > 400 samples into the gap


def test_agrees_with_librosa_yin_on_a_gliding_voice():
    import librosa  # CI installs the speech extras: no skipping

    track = np.linspace(100, 180, RATE) + 15 * np.sin(2 * np.pi * 3 * np.arange(RATE) / RATE)
    audio = harmonic(track)
    f0, voiced, _ = pitch.yin(audio)
    ref = librosa.yin(audio, fmin=60, fmax=500, sr=RATE, frame_length=1024,
                      hop_length=160, center=True)
    inner = slice(8, -8)
    assert voiced[inner].all()
    ratio = f0[inner] / ref[inner]
    assert np.mean(np.abs(np.log(ratio)) < 0.02) > 0.95
    # And against the pitch that was synthesised, at each frame's centre.
    truth = track[np.minimum(np.arange(f0.size) * 160, RATE - 1)]
    assert np.mean(np.abs(np.log(f0[inner] / truth[inner])) < 0.02) > 0.95


def test_frames_line_up_with_the_stft_frames_and_with_crops():
    # 200 Hz then 300 Hz from sample 8,000 = frame 50: frames are centred
    # on i * frame_step, as the encoder's centred STFT frames are.
    audio = np.concatenate([tone(200, 0.5), tone(300, 0.5)])
    f0, voiced, _ = pitch.yin(audio)
    np.testing.assert_allclose(f0[10:45], 200, rtol=0.01)
    np.testing.assert_allclose(f0[56:90], 300, rtol=0.01)
    # A crop's contour is a slice of the utterance's (frames_of), away from
    # the crop's padded edges.
    contour = np.stack([f0, voiced], axis=1)
    start, frames = 4800, 64
    crop_f0, crop_voiced, _ = pitch.yin(audio[start:start + frames * 160])
    sliced = pitch.frames_of(contour, start, frames, 160)
    np.testing.assert_allclose(sliced[6:-6, 0], crop_f0[6:frames - 6], rtol=1e-3)
    np.testing.assert_array_equal(sliced[6:-6, 1], crop_voiced[6:frames - 6])
    # Past the end: zeros (unvoiced), as the audio crop is zero-padded.
    tail = pitch.frames_of(contour, (f0.size - 2) * 160, 5, 160)
    assert tail.shape == (5, 2) and not tail[2:].any()
    with pytest.raises(ValueError, match="multiple of frame_step"):
        pitch.frames_of(contour, 100, 5, 160)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="float mono samples"):
        pitch.yin(np.zeros(1000, np.int16))
    with pytest.raises(ValueError, match="NaN"):
        pitch.yin(np.full(1000, np.nan, np.float32))
    with pytest.raises(ValueError, match="at least the longest period"):
        pitch.yin(tone(100), window=100)
    with pytest.raises(ValueError, match="fmin < fmax"):
        pitch.yin(tone(100), fmin=300, fmax=200)


def test_per_speaker_normalisation_removes_the_register():
    # Speaker 1 reads speaker 0's melody an octave higher: once each is
    # normalised by its own statistics the contours are the same.
    low, high = harmonic(np.linspace(90, 140, RATE)), harmonic(np.linspace(180, 280, RATE))
    contours = [pitch.yin(a)[:2] for a in (low, high)]
    stats = pitch.speaker_statistics(contours, [0, 1], 2)
    np.testing.assert_allclose(stats[1, 0] - stats[0, 0], np.log(2), atol=0.01)
    np.testing.assert_allclose(stats[1, 1], stats[0, 1], rtol=0.05)
    a, b = (pitch.normalized_contour(f, v, *stats[s]) for (f, v), s in zip(contours, (0, 1)))
    assert a.shape == (101, 2) and a.dtype == np.float32
    inner = slice(5, -5)
    np.testing.assert_allclose(a[inner], b[inner], atol=0.05)
    # Each speaker's voiced frames: mean 0, std 1; unvoiced frames are (0, 0).
    voiced = a[:, 1] > 0
    assert abs(a[voiced, 0].mean()) < 1e-3 and abs(a[voiced, 0].std() - 1) < 1e-3
    assert not a[~voiced].any()


def test_a_speaker_without_voiced_frames_is_refused():
    silent = [(np.zeros(10), np.zeros(10, bool))]
    with pytest.raises(ValueError, match="speaker 1 has 0 voiced frames"):
        pitch.speaker_statistics([pitch.yin(tone(150))[:2]] + silent, [0, 1], 2)


def test_contours_are_cached(tmp_path, monkeypatch):
    audios = [tone(150, 0.2), tone(250, 0.3)]
    path = str(tmp_path / "pitch.npz")
    first = pitch.corpus_contours(audios, path)

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(pitch, "yin", fail)
    again = pitch.corpus_contours(audios, path)
    for (f, v), (g, w) in zip(first, again):
        np.testing.assert_array_equal(f, g)
        np.testing.assert_array_equal(v, w)
    # Other audio: computed again, not read from the cache.
    with pytest.raises(AssertionError, match="computed again"):
        pitch.corpus_contours([tone(150, 0.2)], path)


def counting_yin(monkeypatch):
    """`pitch.yin` that counts its calls (a list: one entry per call)."""
    calls, real = [], pitch.yin

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pitch, "yin", counted)
    return calls


@pytest.mark.parametrize("content", ["garbage", "truncated", "foreign", "ragged"])
def test_an_unreadable_or_foreign_cache_is_computed_again(tmp_path, monkeypatch, content):
    audios = [tone(150, 0.2), tone(250, 0.3)]
    path = tmp_path / "pitch.npz"
    fresh = pitch.corpus_contours(audios)  # no cache
    pitch.corpus_contours(audios, str(path))
    good = path.read_bytes()
    if content == "garbage":
        path.write_bytes(b"not an npz at all")
    elif content == "truncated":  # an interrupted copy
        path.write_bytes(good[:len(good) // 2])
    elif content == "foreign":  # another program's .npz: no digest
        np.savez(path, f0=np.zeros(3))
    else:  # the right digest over arrays that do not fit together
        with np.load(path) as z:
            arrays = dict(z)
        arrays["ends"] = arrays["ends"] + 5
        np.savez(path, **arrays)
    calls = counting_yin(monkeypatch)
    again = pitch.corpus_contours(audios, str(path))
    assert len(calls) == 2
    for (f, v), (g, w) in zip(fresh, again):
        np.testing.assert_array_equal(f, g)
        np.testing.assert_array_equal(v, w)
    # The file was replaced by a readable cache: read, not computed.
    pitch.corpus_contours(audios, str(path))
    assert len(calls) == 2


def test_another_tracker_version_computes_the_contours_again(tmp_path, monkeypatch):
    audios = [tone(150, 0.2)]
    path = str(tmp_path / "pitch.npz")
    pitch.corpus_contours(audios, path)
    calls = counting_yin(monkeypatch)
    pitch.corpus_contours(audios, path)
    assert not calls
    monkeypatch.setattr(pitch, "TRACKER_VERSION", pitch.TRACKER_VERSION + 1)
    pitch.corpus_contours(audios, path)
    assert len(calls) == 1
