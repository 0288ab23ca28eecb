"""MFCCs against an independent DCT, and the speaker classifier on
synthetic voices that differ in a known way."""

import numpy as np
import pytest

from vq_zoo.metrics.speaker_id import SpeakerClassifier
from vq_zoo.metrics.speaker_id import fit_logistic_probe
from vq_zoo.metrics.speaker_id import mfcc


def voice(pitch, formant, seconds, rng, rate=16000):
    """A buzz at `pitch` Hz through a resonance at `formant` Hz, with noise."""
    from scipy.signal import lfilter

    t = np.arange(int(seconds * rate)) / rate
    jitter = pitch * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    buzz = np.sign(np.sin(2 * np.pi * np.cumsum(jitter) / rate))
    r, w = 0.97, 2 * np.pi * formant / rate
    out = lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], buzz)
    out = out / np.abs(out).max() * 0.5 + rng.normal(0, 0.01, t.size)
    return out.astype(np.float32)


def test_mfcc_is_a_dct_of_log_mel_energies():
    from vq_zoo.utils.audio_features import mel_filterbank

    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 4000)
    m = mfcc(audio, num_coefficients=5, num_bands=12)
    # Independent DCT-II written out: c_k = sqrt(2/N) s_k sum_n x_n cos(pi k (2n+1) / 2N).
    frame = audio[160:160 + 512] * np.hanning(512)
    energies = np.log(np.abs(np.fft.rfft(frame)) ** 2 @ mel_filterbank(12, 512, 16000) + 1e-8)
    n = np.arange(12)
    ref = [np.sqrt((1 if k == 0 else 2) / 12) * np.sum(energies * np.cos(np.pi * k * (2 * n + 1) / 24))
           for k in range(5)]
    np.testing.assert_allclose(m[1], ref, rtol=1e-6, atol=1e-8)


def test_classifier_separates_synthetic_voices_and_confuses_identical_ones():
    rng = np.random.default_rng(0)
    voices = [(110, 700), (220, 1200), (160, 2400)]
    train = [(voice(p, f, 0.5, rng), s) for s, (p, f) in enumerate(voices) for _ in range(6)]
    test = [(voice(p, f, 0.5, rng), s) for s, (p, f) in enumerate(voices) for _ in range(4)]
    clf = SpeakerClassifier(16000).fit([a for a, _ in train], [s for _, s in train])
    assert clf.accuracy([a for a, _ in test], [s for _, s in test]) == 1.0
    # Two "speakers" with the same voice: no better than a coin on held-out clips.
    same = [(voice(150, 1000, 0.5, rng), i % 2) for i in range(40)]
    clf = SpeakerClassifier(16000).fit([a for a, _ in same[:24]], [s for _, s in same[:24]])
    acc = clf.accuracy([a for a, _ in same[24:]], [s for _, s in same[24:]])
    assert acc <= 0.85


def test_probe_arguments_are_checked():
    with pytest.raises(ValueError, match="at least two classes"):
        fit_logistic_probe(np.zeros((4, 2)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="need features \\(n, dim\\) and n labels"):
        fit_logistic_probe(np.zeros((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="call fit first"):
        SpeakerClassifier().predict([np.zeros(1000)])
