"""Pitch contours for a speech decoder's pitch condition (Polyak et al.
2021): a YIN pitch tracker in NumPy, one estimate per STFT frame, each
speaker's log-F0 statistics over its voiced frames, the speaker-normalised
contour the decoder reads, and a cache of the contours of a corpus.

The tracker is YIN (de Cheveigne and Kawahara 2002): per frame, the
cumulative-mean-normalised difference function `d'(tau)` of a window
against itself shifted by `tau`; the period is the first dip below
`threshold` (refined by a parabola through its neighbours), and a frame is
voiced when such a dip exists and the frame sounds (within `silence_db` of
the clip's loudest frame). librosa's pYIN tracks the same pitch but is
tens of times slower; the measured speeds of both, and how far they agree,
are in recipes/vctk/README.md (`python -m vq_zoo.data.pitch CORPUS
--per-speaker 2`, which measures them).

Frame `i` of a clip is centred on sample `i * frame_step`, as the centred
STFT frames of `SpectrogramEncoder.log_magnitude` are: the contour of a
crop that starts at a multiple of `frame_step` is a slice of the
utterance's contour.
"""

import json
import os

import numpy as np

FEATURES = 2  # normalised log-F0 (0 where unvoiced), voiced flag
# Part of the contour cache's key: raise it whenever `yin` would give other
# contours for the same audio and settings, so that no run reads contours
# the tracker of old computed.
TRACKER_VERSION = 1


def _check_audio(audio):
    audio = np.asarray(audio)
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"`audio` must be float mono samples (time,), got dtype "
                         f"{audio.dtype} shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("`audio` holds NaN or infinite samples")
    return audio.astype(np.float64)


def yin(audio, sample_rate=16000, frame_step=160, fmin=60.0, fmax=500.0, window=768,
        threshold=0.3, silence_db=45.0, chunk=2048):
    """`(f0, voiced, aperiodicity)` of mono float audio `(time,)`, one value
    per frame (`1 + time // frame_step` frames, frame `i` starting its
    `window`-sample analysis window `window // 2` samples before sample
    `i * frame_step`): F0 in Hz (0 where unvoiced), a bool voiced flag, and
    `d'` at the chosen period (1 where no period is found).

    Args:
        audio: float `(time,)`.
        sample_rate: int, Hz.
        frame_step: int, samples between frames.
        fmin, fmax: float, the pitch range searched, Hz.
        window: int, samples compared with their shifted copy; at least the
            longest period, `ceil(sample_rate / fmin)`.
        threshold: float in (0, 1), the largest `d'` of a voiced dip.
        silence_db: float, frames more than this below the clip's loudest
            are unvoiced.
        chunk: int, frames analysed at once (memory only).
    """
    audio = _check_audio(audio)
    if not 0 < fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 < fmin < fmax <= sample_rate / 2, got fmin={fmin}, "
                         f"fmax={fmax}, sample_rate={sample_rate}")
    if not 0 < threshold < 1:
        raise ValueError(f"`threshold` must be in (0, 1), got {threshold}")
    min_period = max(2, int(np.floor(sample_rate / fmax)))
    max_period = int(np.ceil(sample_rate / fmin))
    if window < max_period:
        raise ValueError(f"`window` ({window}) must be at least the longest period, "
                         f"ceil(sample_rate / fmin) = {max_period} samples")
    frames = 1 + audio.size // frame_step
    span = window + max_period + 1
    padded = np.pad(audio, (window // 2, window // 2 + max_period + 1 + frame_step))
    views = np.lib.stride_tricks.sliding_window_view(padded, span)[::frame_step][:frames]
    nfft = 1 << int(np.ceil(np.log2(span + window)))
    f0 = np.zeros(frames)
    aperiodicity = np.ones(frames)
    found = np.zeros(frames, bool)
    energy = np.zeros(frames)
    taus = np.arange(max_period + 1)
    for lo in range(0, frames, chunk):
        f = views[lo:lo + chunk]
        x = f[:, :window]
        # sum_j x_j f_{j + tau}: a cross-correlation, by FFT.
        cross = np.fft.irfft(np.conj(np.fft.rfft(x, nfft)) * np.fft.rfft(f, nfft),
                             nfft)[:, :max_period + 1]
        c = np.concatenate([np.zeros((len(f), 1)), np.cumsum(f * f, axis=1)], axis=1)
        shifted = c[:, taus + window] - c[:, taus]
        d = np.maximum(c[:, window:window + 1] + shifted - 2 * cross, 0.0)
        running = np.cumsum(d[:, 1:], axis=1)
        cmnd = np.ones_like(d)
        cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(running, 1e-12)
        search = cmnd[:, min_period:]
        below = search < threshold
        has = below.any(axis=1)
        first = np.argmax(below, axis=1)
        # From the first point below the threshold, walk down to the dip's
        # bottom: the first tau whose successor is no lower.
        rising = np.ones_like(search, bool)
        rising[:, :-1] = search[:, 1:] >= search[:, :-1]
        rising &= np.arange(search.shape[1])[None] >= first[:, None]
        best = np.argmax(rising, axis=1) + min_period
        rows = np.arange(len(f))
        # A parabola through the dip and its neighbours places the period
        # between samples.
        left = cmnd[rows, np.maximum(best - 1, 0)]
        mid = cmnd[rows, best]
        right = cmnd[rows, np.minimum(best + 1, max_period)]
        curve = left - 2 * mid + right
        shift = np.where(np.abs(curve) > 1e-12, 0.5 * (left - right) / np.where(
            np.abs(curve) > 1e-12, curve, 1.0), 0.0)
        period = best + np.clip(shift, -0.5, 0.5)
        f0[lo:lo + chunk] = np.where(has, sample_rate / period, 0.0)
        aperiodicity[lo:lo + chunk] = np.where(has, mid, 1.0)
        found[lo:lo + chunk] = has
        energy[lo:lo + chunk] = c[:, window] / window
    db = 10 * np.log10(np.maximum(energy, 1e-20))
    sounding = (db >= db.max() - silence_db) & (energy > 1e-10)
    voiced = found & sounding
    return np.where(voiced, f0, 0.0), voiced, np.where(voiced, aperiodicity, 1.0)


def track(audio, sample_rate=16000, frame_step=160, tracker="yin"):
    """`(f0, voiced)` of one clip, one per frame (`1 + samples //
    frame_step`): by `yin` (tracker="yin") or WORLD's Harvest
    (tracker="harvest", `vq_zoo.data.world.track_f0`: the F0 a WORLD
    vocoder is analysed and voiced with)."""
    if tracker == "harvest":
        from vq_zoo.data import world

        f0 = world.track_f0(audio, sample_rate, frame_step)
        return f0, f0 > 0
    if tracker != "yin":
        raise ValueError(f"`tracker` must be 'yin' or 'harvest', got {tracker!r}")
    f0, voiced, _ = yin(audio, sample_rate, frame_step)
    return f0, voiced


def speaker_statistics(contours, speakers, num_speakers):
    """`(num_speakers, 2)` float: the mean and standard deviation of log F0
    over the voiced frames of each speaker's `contours` (`(f0, voiced)`
    pairs). A speaker with fewer than 2 voiced frames is refused
    (ValueError): its contour could not be normalised."""
    logs = [[] for _ in range(num_speakers)]
    for (f0, voiced), s in zip(contours, np.asarray(speakers).reshape(-1)):
        if not 0 <= s < num_speakers:
            raise ValueError(f"speaker {s} out of range [0, {num_speakers})")
        logs[s].append(np.log(np.asarray(f0)[np.asarray(voiced, bool)]))
    out = np.zeros((num_speakers, 2))
    for s, parts in enumerate(logs):
        values = np.concatenate(parts) if parts else np.zeros(0)
        if values.size < 2:
            raise ValueError(f"speaker {s} has {values.size} voiced frames in its "
                             f"training audio: its pitch cannot be normalised")
        out[s] = values.mean(), max(values.std(), 1e-3)
    return out


def normalized_contour(f0, voiced, mean, std):
    """The decoder's pitch condition `(frames, 2)` float32: `(log f0 - mean)
    / std` where voiced (0 elsewhere) and the voiced flag (1 / 0)."""
    voiced = np.asarray(voiced, bool)
    f0 = np.asarray(f0, np.float64)
    if f0.shape != voiced.shape or f0.ndim != 1:
        raise ValueError(f"`f0` and `voiced` must be (frames,) of one shape, got "
                         f"{f0.shape} and {voiced.shape}")
    value = np.zeros(f0.shape)
    value[voiced] = (np.log(f0[voiced]) - mean) / std
    return np.stack([value, voiced.astype(np.float64)], axis=1).astype(np.float32)


def frames_of(contour, start_sample, num_frames, frame_step):
    """Frames `[start_sample / frame_step, ... + num_frames)` of a contour
    `(frames, F)`, zero past its end (a crop padded with silence)."""
    if start_sample % frame_step:
        raise ValueError(f"a contour slice must start at a multiple of frame_step "
                         f"({frame_step}), got sample {start_sample}")
    first = start_sample // frame_step
    piece = contour[first:first + num_frames]
    if len(piece) < num_frames:
        piece = np.concatenate([piece, np.zeros((num_frames - len(piece),)
                                                + contour.shape[1:], contour.dtype)])
    return piece


def corpus_contours(audios, cache_path=None, verbose=False, **yin_kwargs):
    """`[(f0, voiced)]` of every utterance by `yin(**yin_kwargs)`, cached in
    `cache_path` (an `.npz`, written atomically, keyed by a digest of the
    audio, the settings and `TRACKER_VERSION`: other audio, settings or
    tracker compute them again, as does a cache that cannot be read;
    `vq_zoo.data.utterance_cache`)."""
    from vq_zoo.data.utterance_cache import cached_analysis

    return cached_analysis(
        audios, lambda a: yin(a, **yin_kwargs)[:2], ("f0", "voiced"), cache_path,
        key=[TRACKER_VERSION, sorted(yin_kwargs.items())], verbose=verbose,
        what="pitch", every=200)


def compare_with_pyin(audios, sample_rate=16000, frame_step=160):
    """`yin` beside `librosa.pyin` (frame 1024, same hop, 60-500 Hz) on
    each clip: `{"agreement": share of frames with the same voicing,
    "voiced_yin", "voiced_pyin": voiced shares, "f0_within_10pct": share of
    the frames both call voiced whose F0s are within 10%, "seconds_yin",
    "seconds_pyin": time taken}`, each a list (one value per clip)."""
    import time

    import librosa

    out = {k: [] for k in ("agreement", "voiced_yin", "voiced_pyin", "f0_within_10pct",
                           "seconds_yin", "seconds_pyin")}
    for a in audios:
        t = time.perf_counter()
        f0, voiced, _ = yin(a, sample_rate, frame_step)
        out["seconds_yin"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ref, ref_voiced, _ = librosa.pyin(np.asarray(a, np.float32), fmin=60, fmax=500,
                                          sr=sample_rate, frame_length=1024,
                                          hop_length=frame_step, center=True)
        out["seconds_pyin"].append(time.perf_counter() - t)
        n = min(voiced.size, ref_voiced.size)
        voiced, ref_voiced, f0, ref = voiced[:n], ref_voiced[:n], f0[:n], ref[:n]
        both = voiced & ref_voiced
        out["agreement"].append(float(np.mean(voiced == ref_voiced)))
        out["voiced_yin"].append(float(voiced.mean()))
        out["voiced_pyin"].append(float(ref_voiced.mean()))
        out["f0_within_10pct"].append(float(np.mean(
            np.abs(np.log(f0[both] / ref[both])) < np.log(1.1))) if both.any() else 1.0)
    return out


def main(argv=None):
    """`python -m vq_zoo.data.pitch CORPUS_DIR [--per-speaker N]`: the
    tracker beside pYIN on the first N test utterances of each speaker of a
    corpus made by `vq_zoo.data.speech_corpus`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vq_zoo.data.pitch",
                                     description=main.__doc__)
    parser.add_argument("corpus_dir")
    parser.add_argument("--per-speaker", type=int, default=1)
    args = parser.parse_args(argv)
    from vq_zoo.data import speech_corpus

    with open(os.path.join(args.corpus_dir, speech_corpus.MANIFEST)) as f:
        names = json.load(f)["speakers"]
    audios, speakers, _ = speech_corpus.load_split(args.corpus_dir, "test")
    for s, name in enumerate(names):
        clips = [a for a, t in zip(audios, speakers) if t == s][:args.per_speaker]
        r = compare_with_pyin(clips)
        seconds = sum(c.size for c in clips) / speech_corpus.SAMPLE_RATE
        print(f"{name:22s} voicing agreement {np.mean(r['agreement']):.2f}  voiced "
              f"yin {np.mean(r['voiced_yin']):.2f} pyin {np.mean(r['voiced_pyin']):.2f}  "
              f"F0 within 10% {np.mean(r['f0_within_10pct']):.3f}  x real time: yin "
              f"{seconds / sum(r['seconds_yin']):.0f}, pyin "
              f"{seconds / sum(r['seconds_pyin']):.1f}")


__all__ = ["FEATURES", "compare_with_pyin", "corpus_contours", "frames_of",
           "normalized_contour", "speaker_statistics", "yin"]


if __name__ == "__main__":
    main()
