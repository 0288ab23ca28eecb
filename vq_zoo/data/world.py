"""WORLD vocoder features (Morise et al. 2016) of speech, for a decoder that
predicts a spectral envelope and lets the vocoder place the harmonics.

A regression decoder that predicts log-magnitude STFT frames averages the
harmonics it cannot place exactly, so its Griffin-Lim audio has smeared,
unvoiced-sounding upper harmonics. WORLD separates what the codes carry
from what a pitch contour carries: per frame a smooth spectral envelope
(CheapTrick) and a band aperiodicity (D4C) from the codes, and the F0 from
the contour; its synthesiser makes the harmonics at that F0.

`features(audio, f0)` gives `(frames, num_bands + num_aperiodicity_bands)`
float32 per frame `i` (centred on sample `i * frame_step`, as the YIN
contours of `vq_zoo.data.pitch` and the centred STFT frames are): the log
amplitude of the envelope at `num_bands` mel-spaced frequencies from 0 Hz
to Nyquist, in nats above `FLOOR_DB` below full scale (0 in silence), and
the periodicity `1 - aperiodicity` at `num_aperiodicity_bands` mel-spaced
frequencies (0 in silence and noise). Zero is silence in both halves, so a
crop padded with zero frames asks for silence. `synthesize(features, f0)`
inverts them: the envelope interpolated back to WORLD's FFT bins, and
WORLD's synthesiser (`pyworld`, an optional extra: `pip install
'vq_zoo[speech]'`).

References:
    Morise, Yokomori, Ozawa. WORLD: a vocoder-based high-quality speech
    synthesis system for real-time applications. IEICE Trans. 2016.
"""


import numpy as np

PYWORLD_INSTALL = "pip install 'vq_zoo[speech]' (pyworld)"
FEATURES_VERSION = 1
# Envelope amplitudes are measured in nats above this level (dB below full
# scale); anything quieter is silence (0).
FLOOR_DB = 100.0
_FLOOR_LOG = -FLOOR_DB / 20.0 * np.log(10.0)


def _pyworld():
    try:
        import warnings

        with warnings.catch_warnings():  # pyworld imports pkg_resources
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError:
        raise ImportError(f"WORLD features need pyworld: {PYWORLD_INSTALL}") from None
    return pyworld


def fft_size(sample_rate):
    """WORLD's FFT size for `sample_rate` (CheapTrick's default for its
    lowest F0, 71 Hz)."""
    return int(2 ** np.ceil(np.log2(3.0 * sample_rate / 71.0)))


def band_frequencies(num_bands, sample_rate):
    """`num_bands` mel-spaced frequencies in Hz from 0 to the Nyquist
    frequency, both included."""
    top = 2595.0 * np.log10(1.0 + sample_rate / 2.0 / 700.0)
    return 700.0 * (10.0 ** (np.linspace(0.0, top, num_bands) / 2595.0) - 1.0)


def _check(audio, f0, frame_step):
    audio = np.asarray(audio, np.float64)
    f0 = np.asarray(f0, np.float64)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"`audio` must be one non-empty clip (samples,), got shape "
                         f"{audio.shape}")
    frames = 1 + audio.size // frame_step
    if f0.shape != (frames,) or not np.all(np.isfinite(f0)) or np.any(f0 < 0):
        raise ValueError(f"`f0` must be ({frames},) finite Hz >= 0 (0 where unvoiced), one "
                         f"per frame of {frame_step} samples, got shape {f0.shape}")
    return audio, f0


def features(audio, f0, sample_rate=16000, frame_step=160, num_bands=80,
             num_aperiodicity_bands=8):
    """The WORLD features `(frames, num_bands + num_aperiodicity_bands)`
    of one clip (float in [-1, 1]) with its F0 per frame (`1 + samples //
    frame_step` frames, Hz, 0 where unvoiced: `vq_zoo.data.pitch.yin`)."""
    pw = _pyworld()
    audio, f0 = _check(audio, f0, frame_step)
    size = fft_size(sample_rate)
    times = np.arange(f0.size) * frame_step / sample_rate
    envelope = pw.cheaptrick(audio, f0, times, sample_rate, fft_size=size)
    aperiodicity = pw.d4c(audio, f0, times, sample_rate, fft_size=size)
    bins = np.linspace(0.0, sample_rate / 2.0, size // 2 + 1)
    log_amp = 0.5 * np.log(np.maximum(envelope, 1e-300))
    bands = np.stack([np.interp(band_frequencies(num_bands, sample_rate), bins, row)
                      for row in log_amp])
    periodic = np.stack([np.interp(band_frequencies(num_aperiodicity_bands, sample_rate),
                                   bins, 1.0 - row) for row in aperiodicity])
    out = np.concatenate([np.maximum(bands - _FLOOR_LOG, 0.0), np.clip(periodic, 0.0, 1.0)],
                         axis=1)
    return out.astype(np.float32)


def sharpen_envelope(feature_frames, num_bands, amount, width=9):
    """WORLD features with each frame's envelope bands moved `amount` times
    further from their moving average over `width` neighbouring bands (the
    formant postfilter of statistical parametric synthesis: a regression
    decoder's envelopes are flatter than real ones, and flat formants are
    hard to understand). Bands end at >= 0 (silence); in frames of
    `features`, which are never negative, a silent band stays silent (its
    neighbourhood's average is >= 0); the periodicity bands are unchanged;
    `amount=0` returns the frames as they are."""
    frames = np.array(feature_frames, np.float64)
    if not float(amount) >= 0:
        raise ValueError(f"`amount` must be >= 0, got {amount!r}")
    if amount == 0:
        return frames
    envelope = frames[:, :num_bands]
    padded = np.pad(envelope, ((0, 0), (width // 2, width // 2)), mode="edge")
    kernel = np.ones(width) / width
    local = np.stack([np.convolve(row, kernel, mode="valid") for row in padded])
    frames[:, :num_bands] = np.maximum(envelope + amount * (envelope - local), 0.0)
    return frames


def _finer_frames(frames, f0, upsample):
    """Features and F0 at `upsample` times the frame rate: `(frames *
    upsample + 1)` synthesis frames, the last feature frame held at the end.
    The features are interpolated linearly in time (the envelope in log
    amplitude); the F0 too between two voiced frames, and taken from the
    nearer frame otherwise, so voicing starts and stops half-way between
    frames and no F0 is drawn towards 0."""
    count = frames.shape[0]
    t = np.minimum(np.arange(count * upsample + 1) / upsample, count - 1)
    index = np.arange(count)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, count - 1)
    nearer = f0[np.minimum(np.floor(t + 0.5).astype(int), count - 1)]
    both = (f0[lo] > 0) & (f0[hi] > 0)
    fine_f0 = np.where(both, np.interp(t, index, f0), nearer)
    fine = np.stack([np.interp(t, index, column) for column in frames.T], axis=1)
    return fine, fine_f0


def check_upsample(upsample, frame_step, name="upsample"):
    """`upsample` (synthesis frames per feature frame) as an int: an integer
    (a NumPy one too, not a bool) in [1, 16] that divides `frame_step`; else
    a ValueError naming it `name`."""
    if isinstance(upsample, (bool, np.bool_)) or not isinstance(
            upsample, (int, np.integer)) or not (1 <= upsample <= 16
                                                 and frame_step % upsample == 0):
        raise ValueError(f"`{name}` must be an int in [1, 16] and must divide frame_step "
                         f"{frame_step}, got {upsample!r}")
    return int(upsample)


def synthesize(feature_frames, f0, sample_rate=16000, frame_step=160, num_bands=80,
               upsample=1):
    """Float32 audio `(frames * frame_step,)` from WORLD features `(frames,
    num_bands + aperiodicity bands)` (predicted or `features`) and an F0
    per frame (Hz, 0 where unvoiced). `upsample`: WORLD synthesises
    `upsample` frames per feature frame (`_finer_frames`); at 10 ms frames
    WORLD's synthesis loses words that it keeps at 5 ms (`upsample=2`;
    figures in recipes/vctk/README.md, `bench/speech_world_ceiling.py`)."""
    pw = _pyworld()
    frames = np.asarray(feature_frames, np.float64)
    f0 = np.asarray(f0, np.float64)
    if frames.ndim != 2 or frames.shape[1] <= num_bands:
        raise ValueError(f"`feature_frames` must be (frames, {num_bands} + aperiodicity "
                         f"bands), got shape {frames.shape}")
    if f0.shape != frames.shape[:1] or not np.all(np.isfinite(f0)) or np.any(f0 < 0):
        raise ValueError(f"`f0` must be ({frames.shape[0]},) finite Hz >= 0, one per frame, "
                         f"got shape {f0.shape}")
    upsample = check_upsample(upsample, frame_step)
    size = fft_size(sample_rate)
    bins = np.linspace(0.0, sample_rate / 2.0, size // 2 + 1)
    count = frames.shape[0]
    if upsample > 1:
        frames, f0 = _finer_frames(frames, f0, upsample)
    else:
        # One more frame (a copy of the last) so the synthesis spans every sample.
        frames, f0 = np.vstack([frames, frames[-1:]]), np.append(f0, f0[-1])
    num_ap = frames.shape[1] - num_bands
    log_amp = np.maximum(frames[:, :num_bands], 0.0) + _FLOOR_LOG
    envelope = np.exp(2.0 * np.stack(
        [np.interp(bins, band_frequencies(num_bands, sample_rate), row) for row in log_amp]))
    periodic = np.stack([np.interp(bins, band_frequencies(num_ap, sample_rate), row)
                         for row in frames[:, num_bands:]])
    aperiodicity = np.clip(1.0 - periodic, 1e-3, 1.0)
    audio = pw.synthesize(np.ascontiguousarray(f0), envelope, aperiodicity, sample_rate,
                          frame_period=1000.0 * frame_step / upsample / sample_rate)
    audio = np.pad(audio, (0, max(0, count * frame_step - audio.size)))
    return audio[:count * frame_step].astype(np.float32)


def track_f0(audio, sample_rate=16000, frame_step=160, f0_floor=60.0, f0_ceil=500.0):
    """WORLD's Harvest F0 of one clip: `(1 + samples // frame_step,)` Hz, 0
    where unvoiced (frame `i` centred on sample `i * frame_step`). It tracks
    low and creaky voices better than YIN (`vq_zoo.data.pitch.yin`) at about
    6x real time on one core."""
    pw = _pyworld()
    audio = np.asarray(audio, np.float64)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"`audio` must be one non-empty clip (samples,), got shape "
                         f"{audio.shape}")
    f0, _ = pw.harvest(audio, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil,
                       frame_period=1000.0 * frame_step / sample_rate)
    frames = 1 + audio.size // frame_step
    return np.pad(f0, (0, max(0, frames - f0.size)))[:frames]


def analyze(audio, sample_rate=16000, frame_step=160, num_bands=80,
            num_aperiodicity_bands=8):
    """`(f0, features)` of one clip: `track_f0` and `features` with it."""
    f0 = track_f0(audio, sample_rate, frame_step)
    return f0, features(audio, f0, sample_rate, frame_step, num_bands,
                        num_aperiodicity_bands)


def corpus_analysis(audios, cache_path=None, verbose=False, **kwargs):
    """`[(f0, features)]`: `analyze(audio, **kwargs)` of every utterance,
    cached in `cache_path` (an `.npz` written atomically, keyed by a digest
    of the audio, the settings and `FEATURES_VERSION`; a cache of other
    data, or one that cannot be read, is computed again;
    `vq_zoo.data.utterance_cache`)."""
    from vq_zoo.data.utterance_cache import cached_analysis

    found = cached_analysis(audios, lambda a: analyze(a, **kwargs), ("f0", "frames"),
                            cache_path, key=[FEATURES_VERSION, sorted(kwargs.items())],
                            verbose=verbose, what="WORLD analysis")
    return [(f0, frames.astype(np.float32)) for f0, frames in found]


__all__ = ["FLOOR_DB", "analyze", "band_frequencies", "check_upsample", "corpus_analysis",
           "features", "fft_size", "sharpen_envelope", "synthesize", "track_f0"]
