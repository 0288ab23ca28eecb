"""Who is speaking: MFCC statistics and a logistic-regression speaker
classifier (scikit-learn), trained on original audio and applied to
anything a model makes."""

import numpy as np

from vq_zoo.utils.audio_features import mel_filterbank


def mfcc(audio, sample_rate=16000, num_coefficients=20, num_bands=40, frame=512, hop=160):
    """MFCC frames `(frames, num_coefficients)` of float audio: Hann
    frames of `frame` samples every `hop`, power spectrum, `num_bands` mel
    bands, log, orthonormal DCT-II (the first coefficient kept)."""
    from scipy.fft import dct

    audio = np.asarray(audio, np.float64).reshape(-1)
    if audio.size < frame:
        audio = np.pad(audio, (0, frame - audio.size))
    count = 1 + (audio.size - frame) // hop
    idx = np.arange(frame)[None] + hop * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(audio[idx] * np.hanning(frame)[None], axis=1)) ** 2
    bands = power @ mel_filterbank(num_bands, frame, sample_rate)
    return dct(np.log(bands + 1e-8), type=2, norm="ortho", axis=1)[:, :num_coefficients]


def mfcc_statistics(audio, sample_rate=16000):
    """One vector per clip: the mean and standard deviation over frames of
    20 MFCCs and of their first differences (80 values), over the frames
    louder than 40 dB below the clip's loudest (silence says little about
    the voice)."""
    num_bands = 40
    m = mfcc(audio, sample_rate, num_bands=num_bands)
    # c0 of the orthonormal DCT is sqrt(bands) x the mean log band power.
    log_power = m[:, 0] / np.sqrt(num_bands)
    keep = log_power >= log_power.max() - np.log(1e4)
    m = m[keep] if keep.sum() >= 3 else m
    d = np.diff(m, axis=0) if len(m) > 1 else np.zeros_like(m)
    return np.concatenate([m.mean(0), m.std(0), d.mean(0), d.std(0)])


def fit_logistic_probe(features, labels, seed=0, max_iter=3000):
    """A standardised multinomial logistic regression fitted to
    `features` `(n, dim)` and int `labels` `(n,)`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need features (n, dim) and n labels, got {features.shape} and "
                         f"{labels.shape}")
    if np.unique(labels).size < 2:
        raise ValueError("a probe needs at least two classes in its training labels")
    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(max_iter=max_iter, random_state=seed))
    return probe.fit(features, labels)


class SpeakerClassifier:
    """A speaker classifier on `mfcc_statistics`: `fit(audios, speakers)` on
    original clips, then `predict(audios)` / `accuracy(audios, speakers)`
    on held-out originals, reconstructions or conversions.

    Example:
    >>> clf = SpeakerClassifier(16000).fit(train_audio, train_speakers)  # doctest: +SKIP
    >>> clf.accuracy(converted, target_speakers)                          # doctest: +SKIP
    """

    def __init__(self, sample_rate=16000, seed=0):
        self.sample_rate = int(sample_rate)
        self.seed = seed
        self.probe = None

    def features(self, audios):
        return np.stack([mfcc_statistics(a, self.sample_rate) for a in audios])

    def fit(self, audios, speakers):
        self.probe = fit_logistic_probe(self.features(audios), speakers, self.seed)
        return self

    def predict(self, audios):
        if self.probe is None:
            raise ValueError("SpeakerClassifier: call fit first")
        return self.probe.predict(self.features(audios))

    def accuracy(self, audios, speakers):
        return float(np.mean(self.predict(audios) == np.asarray(speakers)))


__all__ = ["SpeakerClassifier", "fit_logistic_probe", "mfcc", "mfcc_statistics"]
