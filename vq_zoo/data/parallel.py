"""Parallel utterances: the same sentence read by several voices, aligned
frame by frame by dynamic time warping (DTW).

A corpus where every sentence is read by every voice (the offline speech
corpus of `vq_zoo.data.speech_corpus`) gives a speech VQ-VAE a target for a
conversion: the clip's codes decoded in another voice should give that
voice's features of the same sentence, once its frames are brought onto the
clip's time axis (`SpectrogramVQVAE(swap_weight=...)`). The alignment reads
speaker-normalised cepstra of the WORLD envelope (each utterance's own mean
and spread removed, as cepstral mean and variance normalisation does), so
the path follows the phones rather than the voices' timbres. 8 cepstra by
default: on the offline corpus the aligned frames' phones (PocketSphinx's
forced alignments, which the DTW does not read) agree on 0.77 of the frames
against 0.65 with 24 and 0.40 for a linear stretch
(`python bench/speech_alignment.py RUN --cepstra 8,24`).

Reference: Sakoe, Chiba. Dynamic programming algorithm optimization for
spoken word recognition. IEEE TASSP 26(1), 1978.
"""

import numpy as np


def dtw_path(cost):
    """The monotone path of least summed cost through `cost` `(n, m)` from
    `(0, 0)` to `(n - 1, m - 1)`, by steps (1, 0), (0, 1) and (1, 1):
    `(rows, cols)`, int arrays of the path's cells in order. Filled one
    anti-diagonal at a time (each cell needs only the two diagonals
    before it), so the work is NumPy's, not Python's."""
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise ValueError(f"`cost` must be a non-empty (n, m) matrix, got shape {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("`cost` must be finite everywhere")
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    # 0: from (i-1, j-1); 1: from (i-1, j); 2: from (i, j-1).
    step = np.zeros((n + 1, m + 1), np.int8)
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        options = np.stack([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        best = np.argmin(options, axis=0)
        total[i, j] = cost[i - 1, j - 1] + options[best, np.arange(i.size)]
        step[i, j] = best
    rows, cols = [n], [m]
    i, j = n, m
    while (i, j) != (1, 1):
        s = step[i, j]
        if s == 0:
            i, j = i - 1, j - 1
        elif s == 1:
            i -= 1
        else:
            j -= 1
        rows.append(i)
        cols.append(j)
    return np.asarray(rows[::-1]) - 1, np.asarray(cols[::-1]) - 1


def alignment_features(envelope, num_cepstra=8):
    """Speaker-normalised cepstra `(frames, num_cepstra)` of an envelope
    `(frames, bands)` in log amplitude: its DCT-II over the bands without
    the 0th (level) coefficient, each coefficient's mean and standard
    deviation over the utterance removed."""
    if not isinstance(num_cepstra, (int, np.integer)) or num_cepstra < 1:
        raise ValueError(f"`num_cepstra` must be an int >= 1, got {num_cepstra!r}")
    envelope = np.asarray(envelope, np.float64)
    if envelope.ndim != 2 or envelope.shape[1] <= num_cepstra:
        raise ValueError(f"`envelope` must be (frames, bands) with more than {num_cepstra} "
                         f"bands, got shape {envelope.shape}")
    bands = envelope.shape[1]
    k = np.arange(1, num_cepstra + 1)[:, None]
    basis = np.cos(np.pi * k * (np.arange(bands) + 0.5) / bands)
    cepstra = envelope @ basis.T
    cepstra = cepstra - cepstra.mean(0)
    return cepstra / (cepstra.std(0) + 1e-6)


def align(source, other):
    """For each frame of `source` `(n, dims)` the index of `other`'s
    `(m, dims)` frame the DTW path puts beside it (the middle one where
    the path holds several): int32 `(n,)`, non-decreasing, from 0 to m - 1."""
    return align_both(source, other)[0]


def align_both(source, other):
    """`(align(source, other), align(other, source))` from one DTW path
    (the path of the transposed cost is the same path transposed)."""
    source, other = np.asarray(source, np.float64), np.asarray(other, np.float64)
    if source.ndim != 2 or other.ndim != 2 or source.shape[1] != other.shape[1]:
        raise ValueError(f"`source` and `other` must be (frames, dims) with the same dims, "
                         f"got {source.shape} and {other.shape}")
    cost = np.sqrt(np.maximum(
        (source ** 2).sum(1)[:, None] + (other ** 2).sum(1)[None] - 2 * source @ other.T, 0))
    rows, cols = dtw_path(cost)
    return _middles(rows, cols, source.shape[0]), _middles(cols, rows, other.shape[0])


def _middles(rows, cols, n):
    # rows, cols: a monotone path; for each row the middle of its columns.
    first = np.searchsorted(rows, np.arange(n), side="left")
    last = np.searchsorted(rows, np.arange(n), side="right") - 1
    return cols[(first + last) // 2].astype(np.int32)


def partners(texts, speakers):
    """For each utterance the indices of the others with the same text and
    another speaker: a list of int arrays (empty where none)."""
    if texts is None or len(texts) != len(speakers):
        raise ValueError("parallel pairs need each utterance's text (the same sentence read by "
                         "several voices); got "
                         f"{'none' if texts is None else f'{len(texts)} for {len(speakers)}'}")
    by_text = {}
    for u, t in enumerate(texts):
        by_text.setdefault(t, []).append(u)
    speakers = np.asarray(speakers)
    return [np.asarray([v for v in by_text[t] if speakers[v] != speakers[u]], np.int64)
            for u, t in enumerate(texts)]


class ParallelPairs:
    """Every utterance's parallel partners and their alignments, for
    `random_crops(..., swap=...)`: `pair(u, start, frames, rng)` draws one
    partner of utterance `u` and gives its speaker and its features at the
    DTW-aligned frames of the clip's frames `start ... start + frames`
    (frames past the utterance's end get the partner's last frame).

    Args:
        features: each utterance's frames `(frames, bins)` (the WORLD
            features the decoder predicts; the first `num_bands` are the
            envelope the alignment reads).
        texts: each utterance's sentence (equal text = the same sentence).
        speakers: each utterance's speaker.
        num_bands: the envelope's bands at the start of each frame.
        num_cepstra: the cepstra the alignment reads (`alignment_features`).
        verbose: print progress.
    """

    def __init__(self, features, texts, speakers, num_bands, num_cepstra=8, verbose=False):
        self.features = [np.asarray(f, np.float32) for f in features]
        self.speakers = np.asarray(speakers, np.int32)
        self.partners = partners(texts, self.speakers)
        lonely = [u for u, p in enumerate(self.partners) if p.size == 0]
        if lonely:
            raise ValueError(f"{len(lonely)} of {len(self.partners)} utterances have no other "
                             f"voice reading their sentence (e.g. utterance {lonely[0]}): a "
                             f"parallel pair needs every sentence read by 2 or more speakers")
        cepstra = [alignment_features(f[:, :num_bands], num_cepstra) for f in self.features]
        self.maps = {}
        done = 0
        for u, others in enumerate(self.partners):
            for v in others:
                if (v, u) in self.maps:
                    continue
                self.maps[u, v], self.maps[v, u] = align_both(cepstra[u], cepstra[v])
                done += 1
            if verbose and (u + 1) % 100 == 0:
                print(f"aligned the partners of {u + 1}/{len(self.partners)} utterances "
                      f"({done} pairs)", flush=True)

    def pair(self, u, start, frames, rng):
        v = int(rng.choice(self.partners[u]))
        index = self.maps[u, v]
        rows = np.minimum(np.arange(start, start + frames), index.size - 1)
        return self.speakers[v], self.features[v][index[rows]]


__all__ = ["dtw_path", "alignment_features", "align", "align_both", "partners", "ParallelPairs"]
