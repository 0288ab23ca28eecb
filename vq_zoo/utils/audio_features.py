"""Spectrogram features shared by the speech models and the speech
instruments: a mel filterbank (NumPy) and the STFT settings.

This module imports neither TensorFlow nor Keras.
"""

import numpy as np


def hz_to_mel(f):
    """The HTK mel scale, `2595 log10(1 + f / 700)`."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def mel_edges(num_bands, low, high):
    """`num_bands + 2` frequencies in Hz equally spaced on the mel scale from
    `low` to `high`: filter `b` of `mel_filterbank` rises from edge `b`,
    peaks at edge `b + 1` (its centre) and falls to edge `b + 2`."""
    return mel_to_hz(np.linspace(hz_to_mel(low), hz_to_mel(high), num_bands + 2))


def mel_filterbank(num_bands, fft_size, sample_rate, low=0.0, high=None):
    """Triangular filters `(fft_size // 2 + 1, num_bands)` (float32), centres
    equally spaced on the mel scale between `low` and `high` Hz (default the
    Nyquist frequency), each peaking at 1."""
    if num_bands < 1 or fft_size < 2:
        raise ValueError(f"`num_bands` must be >= 1 and `fft_size` >= 2, got "
                         f"{num_bands}, {fft_size}")
    high = sample_rate / 2 if high is None else high
    if not 0 <= low < high <= sample_rate / 2:
        raise ValueError(f"need 0 <= low < high <= {sample_rate / 2} Hz, got {low}, {high}")
    edges = mel_edges(num_bands, low, high)
    freqs = np.linspace(0, sample_rate / 2, fft_size // 2 + 1)
    bank = np.zeros((freqs.size, num_bands))
    for b in range(num_bands):
        lo, mid, hi = edges[b:b + 3]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        bank[:, b] = np.clip(np.minimum(rise, fall), 0, None)
    return bank.astype(np.float32)


__all__ = ["hz_to_mel", "mel_edges", "mel_filterbank", "mel_to_hz"]
