"""The offline speech corpus, synthesised for real with espeak-ng and flite
(CI installs them: .ci/run's REQUIRED_PROGRAMS), and the WAV / resampling
helpers it uses."""

import json
import os
import wave

import numpy as np
import pytest

from vq_zoo.data import speech_corpus
from vq_zoo.utils import audio

TWO_VOICES = (speech_corpus.SPEAKERS[2], speech_corpus.SPEAKERS[4])  # flite slt, espeak


def test_sentences_are_distinct_deterministic_and_split_by_sentence():
    a = speech_corpus.generate_sentences(40, seed=3)
    assert a == speech_corpus.generate_sentences(40, seed=3)
    assert len(set(a)) == 40 and a != speech_corpus.generate_sentences(40, seed=4)
    splits = [speech_corpus.split_of(i, 40) for i in range(40)]
    assert splits.count("test") == 5 and splits.count("validation") == 5
    assert splits.count("train") == 30


def test_corpus_of_three_sentences_two_engines(tmp_path):
    out = tmp_path / "corpus"
    manifest = speech_corpus.build_corpus(out, num_sentences=3, seed=0,
                                          speakers=TWO_VOICES, verbose=False)
    assert manifest["speakers"] == ["flite_slt", "espeak_us_m3_p35"]
    assert len(manifest["utterances"]) == 6
    assert {u["split"] for u in manifest["utterances"]} == {"train", "validation", "test"}
    durations = {}
    for u in manifest["utterances"]:
        with wave.open(str(out / u["path"])) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert pcm.size == u["samples"] and pcm.size > 8000  # > 0.5 s of speech
        assert 0.5 < np.abs(pcm).max() / 32767 <= 0.81  # peak-normalised to 0.8
        durations[(u["speaker"], u["sentence"])] = pcm.size
    # The same words take a different time for different voices.
    assert durations[(0, 0)] != durations[(1, 0)]
    audios, speakers, sentences = speech_corpus.load_split(out, "train")
    assert list(speakers) == [0, 1] and list(sentences) == [0, 0]
    # Reused as it is when the settings match (the manifest is not rewritten).
    stamp = os.path.getmtime(out / "manifest.json")
    speech_corpus.build_corpus(out, num_sentences=3, seed=0, speakers=TWO_VOICES,
                               verbose=False)
    assert os.path.getmtime(out / "manifest.json") == stamp
    with open(out / "manifest.json") as f:
        assert json.load(f)["settings"]["speakers"][1][1] == "espeak-ng"


def test_missing_synthesisers_name_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError,
                       match=r"espeak-ng, flite .*apt-get install -y espeak-ng flite sox"):
        speech_corpus.check_programs()
    assert speech_corpus.main(["--out", str(tmp_path / "c"), "--sentences", "3"]) == 1


def test_wav_round_trip_is_16_bit_pcm(tmp_path):
    x = np.linspace(-1.2, 1.2, 101).astype(np.float32)
    path = tmp_path / "x.wav"
    audio.write_wav(path, x, 8000)
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert w.getframerate() == 8000
    np.testing.assert_array_equal(pcm, np.round(np.clip(x, -1, 1) * 32767).astype("<i2"))
    back, rate = audio.read_audio(path)
    assert rate == 8000
    np.testing.assert_allclose(back, np.clip(x, -1, 1), atol=2 / 32767)


def test_resample_keeps_the_frequency():
    t = np.arange(22050) / 22050.0
    x = np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)
    y = audio.resample(x, 22050, 16000)
    assert y.size == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second


def test_read_audio_errors(tmp_path):
    with pytest.raises(audio.AudioError, match="not found"):
        audio.read_audio(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(audio.AudioError, match="not an audio file"):
        audio.read_audio(bad)
