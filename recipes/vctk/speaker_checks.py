"""What the codes carry: a speaker classifier on log-mel statistics (NumPy)
and logistic-regression probes (scikit-learn)."""

import numpy as np


def mel_filterbank(num_bands, fft_size, sample_rate, low=50.0, high=None):
    """Triangular filters `(num_bands, fft_size // 2 + 1)` equally spaced
    on the mel scale `2595 log10(1 + f / 700)`."""
    high = high or sample_rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(low), mel(high), num_bands + 2) / 2595.0) - 1)
    freqs = np.linspace(0, sample_rate / 2, fft_size // 2 + 1)
    bank = np.zeros((num_bands, freqs.size))
    for b in range(num_bands):
        lo, mid, hi = edges[b:b + 3]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        bank[b] = np.clip(np.minimum(rise, fall), 0, None)
    return bank


def log_mel(audio, sample_rate=16000, frame=400, hop=160, fft_size=512, num_bands=40):
    """Log-mel frames `(frames, num_bands)` of float audio (25 ms Hann
    windows every 10 ms at 16 kHz)."""
    audio = np.asarray(audio, np.float64).reshape(-1)
    if audio.size < frame:
        audio = np.pad(audio, (0, frame - audio.size))
    count = 1 + (audio.size - frame) // hop
    idx = np.arange(frame)[None] + hop * np.arange(count)[:, None]
    frames = audio[idx] * np.hanning(frame)[None]
    power = np.abs(np.fft.rfft(frames, fft_size, axis=1)) ** 2
    return np.log(power @ mel_filterbank(num_bands, fft_size, sample_rate).T + 1e-8)


def speaker_features(audio, sample_rate=16000):
    """One vector per clip: the mean and standard deviation of its log-mel
    frames (80 values)."""
    m = log_mel(audio, sample_rate)
    return np.concatenate([m.mean(0), m.std(0)])


def code_histogram(codes, num_embeddings):
    """Normalised counts of each code in one clip's codes."""
    counts = np.bincount(np.asarray(codes).reshape(-1), minlength=num_embeddings)
    return counts / max(1, counts.sum())


def fit_probe(features, labels, seed=0):
    """A standardised multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    return probe.fit(np.asarray(features), np.asarray(labels))


def accuracy(probe, features, labels):
    return float(np.mean(probe.predict(np.asarray(features)) == np.asarray(labels)))


__all__ = ["accuracy", "code_histogram", "fit_probe", "log_mel", "mel_filterbank",
           "speaker_features"]
