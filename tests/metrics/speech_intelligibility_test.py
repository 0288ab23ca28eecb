"""Word error rate against edit distances worked out by hand, frame labels
from segments, and (with pocketsphinx installed) the recogniser on real
recorded speech."""

import os

import numpy as np
import pytest

from vq_zoo.metrics.speech_intelligibility import frame_labels
from vq_zoo.metrics.speech_intelligibility import normalize_text
from vq_zoo.metrics.speech_intelligibility import word_edits
from vq_zoo.metrics.speech_intelligibility import word_error_rate


@pytest.mark.parametrize("ref, hyp, edits", [
    # Worked by hand: identical; one substitution; one deletion; one
    # insertion; empty hypothesis (all deleted); a swap of two words costs 2.
    ("the cat sat", "the cat sat", 0),
    ("the cat sat", "the bat sat", 1),
    ("the cat sat", "the sat", 1),
    ("the cat sat", "the cat sat down", 1),
    ("the cat sat", "", 3),
    ("the cat sat", "cat the sat", 2),
    # "a b c d" -> "b c d e": delete a, insert e.
    ("a b c d", "b c d e", 2),
    # Nothing in common, different lengths: 2 substitutions + 1 insertion.
    ("x y", "p q r", 3),
])
def test_word_edits_against_hand_counts(ref, hyp, edits):
    assert word_edits(ref, hyp) == (edits, len(ref.split()))


def test_normalisation_and_corpus_rate():
    assert normalize_text("The Dog's bone, AGAIN!") == ["the", "dog's", "bone", "again"]
    assert word_edits("The cat sat.", "the CAT sat") == (0, 3)
    # Corpus WER pools the edits: (1 + 3) / (3 + 3), not the mean of 1/3 and 1.
    assert word_error_rate(["the cat sat", "a b c"], ["the bat sat", ""]) == 4 / 6
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([""], ["a"])


def test_frame_labels_take_the_segment_under_each_centre():
    segments = [("SIL", 0.0, 0.03), ("AH", 0.03, 0.05), ("T", 0.05, 0.10), ("ZZ", 0.10, 0.2)]
    labels = frame_labels(segments, 6, 0.02, ["SIL", "AH", "T"])
    # Centres 0.01, 0.03, 0.05, 0.07, 0.09, 0.11 s; "ZZ" is no known label.
    np.testing.assert_array_equal(labels, [0, 1, 2, 2, 2, -1])




def test_recogniser_on_real_speech_and_alignment_of_a_tone_burst():
    pytest.importorskip("pocketsphinx")
    from vq_zoo.metrics.speech_intelligibility import Recognizer

    from vq_zoo.utils.audio import read_audio

    recognizer = Recognizer()
    # espeak-free reference: flite reads a sentence; the recogniser's WER on
    # it is small (the issue measured 0.07-0.13 on flite voices).
    import shutil
    import subprocess
    import tempfile

    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (apt-get install flite)")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.wav")
        subprocess.run(["flite", "-voice", "slt", "-t", "go forward ten meters", "-o", path],
                       check=True)
        audio, rate = read_audio(path)
    text = recognizer.transcribe(audio, rate)
    edits, words = word_edits("go forward ten meters", text)
    assert edits / words <= 0.5, text
    segments = recognizer.align(audio, rate, "go forward ten meters")
    phones = [p for p, _, _ in segments if p != "SIL"]
    assert phones[:2] == ["G", "OW"]
    starts = [s for _, s, _ in segments]
    assert starts == sorted(starts) and segments[-1][2] <= audio.size / rate + 0.02
    with pytest.raises(ValueError, match="not in the recogniser's dictionary"):
        recognizer.align(audio, rate, "go qwzxv")


def test_voiced_fraction_of_a_tone_and_of_silence():
    pytest.importorskip("librosa")
    from vq_zoo.metrics.pitch import voiced_fraction

    t = np.arange(16000) / 16000
    # A 150 Hz tone is voiced throughout; a clip that is only a short tone
    # burst in silence is judged on its sounding frames alone.
    assert voiced_fraction(0.3 * np.sin(2 * np.pi * 150 * t)) >= 0.9
    burst = np.zeros(32000, np.float32)
    burst[8000:24000] = 0.3 * np.sin(2 * np.pi * 200 * t)
    assert voiced_fraction(burst) >= 0.8
    assert voiced_fraction(np.zeros(16000, np.float32)) == 0.0
    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    assert voiced_fraction(noise) < 0.5
