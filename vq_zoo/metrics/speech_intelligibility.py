"""Intelligibility of speech: word error rate by an off-the-shelf
recogniser (CMU PocketSphinx, `pip install 'vq_zoo[speech-eval]'`), and
phone alignments by the same recogniser.

The recogniser is independent of every model here: its acoustic model and
its general English language model ship in the `pocketsphinx` wheel, and
nothing in it is tuned to the project's corpus.
"""

import re

import numpy as np

SPEECH_EVAL_INSTALL = "pip install 'vq_zoo[speech-eval]' (pocketsphinx)"
RECOGNISER_RATE = 16000


def normalize_text(text):
    """Lower-case words without punctuation (apostrophes kept)."""
    return re.sub(r"[^a-z' ]+", " ", str(text).lower()).split()


def word_edits(reference, hypothesis):
    """`(edits, reference_words)`: the Levenshtein distance between the
    word sequences (substitutions, insertions and deletions cost 1) and the
    number of reference words. Either argument is a string (normalised by
    `normalize_text`) or a sequence of words."""
    ref = normalize_text(reference) if isinstance(reference, str) else list(reference)
    hyp = normalize_text(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def word_error_rate(references, hypotheses):
    """Corpus WER: the summed word edits over the summed reference words."""
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    edits = words = 0
    for ref, hyp in zip(references, hypotheses):
        e, n = word_edits(ref, hyp)
        edits, words = edits + e, words + n
    if words == 0:
        raise ValueError("the references hold no words")
    return edits / words


def _pcm16(audio, sample_rate):
    from vq_zoo.utils.audio import resample

    audio = np.asarray(audio, np.float32).reshape(-1)
    audio = resample(audio, sample_rate, RECOGNISER_RATE)
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Recognizer:
    """PocketSphinx's US-English recogniser (its default acoustic model,
    dictionary and language model), decoding whole utterances.

    Example:
    >>> recognizer = Recognizer()                        # doctest: +SKIP
    >>> recognizer.transcribe(audio, 16000)             # doctest: +SKIP
    'the quiet teacher carries a wooden boat'
    """

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise ImportError(f"the speech instruments need pocketsphinx: "
                              f"{SPEECH_EVAL_INSTALL}") from None
        self._decoder_class = Decoder
        self.decoder = Decoder(samprate=RECOGNISER_RATE, logfn="/dev/null")

    def _run(self, decoder, pcm):
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()

    def transcribe(self, audio, sample_rate):
        """The recognised words (a lower-case string, "" for none) of float
        audio in [-1, 1]."""
        self._run(self.decoder, _pcm16(audio, sample_rate))
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def align(self, audio, sample_rate, text):
        """Forced alignment of `text` to the audio: a list of `(phone,
        start_s, end_s)` (CMU ARPAbet phones without stress, `SIL` for
        silence), or None when the recogniser finds no alignment (it
        raises RuntimeError for audio that fits no path). Words
        missing from its dictionary raise ValueError."""
        decoder = self._decoder_class(samprate=RECOGNISER_RATE, logfn="/dev/null")
        words = normalize_text(text)
        unknown = [w for w in words if decoder.lookup_word(w) is None]
        if unknown:
            raise ValueError(f"words not in the recogniser's dictionary: {unknown}")
        pcm = _pcm16(audio, sample_rate)
        try:
            decoder.set_align_text(" ".join(words))
            self._run(decoder, pcm)
            decoder.set_alignment()
            self._run(decoder, pcm)
            alignment = decoder.get_alignment()
        except RuntimeError:  # no path through the alignment graph
            return None
        if alignment is None:
            return None
        frame = 0.01  # the recogniser's 100 frames/s
        out = []
        for word in alignment:
            for phone in word:
                out.append((phone.name, phone.start * frame,
                            (phone.start + phone.duration) * frame))
        return out or None


def frame_labels(segments, num_frames, frame_seconds, labels):
    """Int labels `(num_frames,)` of frames `frame_seconds` long: the index
    in `labels` of the segment `(name, start_s, end_s)` holding each frame's
    centre, -1 where none does or the name is not in `labels`."""
    index = {name: i for i, name in enumerate(labels)}
    out = np.full(num_frames, -1, np.int32)
    centres = (np.arange(num_frames) + 0.5) * frame_seconds
    for name, start, end in segments:
        inside = (centres >= start) & (centres < end)
        out[inside] = index.get(name, -1)
    return out


__all__ = ["Recognizer", "frame_labels", "normalize_text", "word_edits",
           "word_error_rate", "SPEECH_EVAL_INSTALL"]
