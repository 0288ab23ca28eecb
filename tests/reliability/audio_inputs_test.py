"""Audio files as a careless or hostile user gives them (issues 23.6, 23.9):
valid WAV encodings are read (IEEE float, WAVE_FORMAT_EXTENSIBLE, with or
without libsndfile), and headers that claim absurd rates or lengths,
garbage, devices and over-long recordings are refused in one line from the
header, before any sample is read."""

import struct
import sys

import numpy as np
import pytest

from vq_zoo.utils import audio

soundfile = pytest.importorskip("soundfile")  # the `audio` extra; CI installs it


def wav_header(rate, channels=1, bits=16, data_bytes=0, fmt=1):
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk \
        + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", len(body) + data_bytes) + body


def tone(rate=16000, seconds=0.25):
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype("float32")


@pytest.mark.parametrize("fmt,subtype", [("WAV", "FLOAT"), ("WAVEX", "PCM_16"),
                                         ("WAVEX", "FLOAT"), ("FLAC", "PCM_16")])
def test_valid_encodings_are_read(fmt, subtype, tmp_path):
    path = tmp_path / f"x.{'flac' if fmt == 'FLAC' else 'wav'}"
    soundfile.write(path, tone(), 16000, format=fmt, subtype=subtype)
    back, rate = audio.read_audio(path)
    assert rate == 16000
    np.testing.assert_allclose(back, tone(), atol=1 / 16384)


def test_without_libsndfile_float_wavs_go_through_sox(tmp_path, monkeypatch):
    import shutil

    if shutil.which("sox") is None:
        pytest.fail("sox is required (.ci/run installs it)")
    path = tmp_path / "float.wav"
    soundfile.write(path, tone(), 16000, format="WAV", subtype="FLOAT")
    monkeypatch.setitem(sys.modules, "soundfile", None)  # import soundfile -> ImportError
    back, rate = audio.read_audio(path)
    assert rate == 16000
    np.testing.assert_allclose(back, tone(), atol=2 / 32768)


@pytest.mark.parametrize("rate", [0, 1, 99_999_989, 2 ** 31 - 1])
@pytest.mark.parametrize("libsndfile", [True, False])
def test_absurd_sample_rates_are_refused_from_the_header(rate, libsndfile, tmp_path,
                                                        monkeypatch):
    path = tmp_path / "rate.wav"
    pcm = np.zeros(3600, "<i2").tobytes()
    path.write_bytes(wav_header(rate, data_bytes=len(pcm)) + pcm)
    if not libsndfile:
        monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(audio.AudioError) as e:
        audio.read_audio(path)
    message = str(e.value)
    assert "\n" not in message
    assert (f"sample rate {rate} Hz is outside the supported 1000-384000 Hz" in message
            or "not an audio file" in message)


def test_a_header_followed_by_garbage_is_one_line(tmp_path):
    path = tmp_path / "garbage.wav"
    rng = np.random.default_rng(0)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4000) + b"WAVE"
                     + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(audio.AudioError) as e:
        audio.read_audio(path)
    assert "\n" not in str(e.value) and "garbage.wav" in str(e.value)


def test_devices_are_refused(tmp_path):
    with pytest.raises(audio.AudioError, match="not a regular file"):
        audio.read_audio("/dev/zero")


def test_a_recording_beyond_the_limit_is_refused_with_how_to_split_it(tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(path, np.zeros(1000 * 601, "float32"), 1000, subtype="PCM_16")
    with pytest.raises(audio.AudioError, match=r"601 s of audio, more than the 600 s "
                                               r"limit: split it first, e.g. sox"):
        audio.read_audio(path)
    assert audio.read_audio(path, max_seconds=None)[0].size == 601_000
