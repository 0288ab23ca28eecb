"""Mono audio files: 16-bit PCM WAV read and written with Python's `wave`
module and NumPy (atomic writes), other formats read through `sox`, and
resampling with `scipy.signal.resample_poly`.

Audio in memory is float32 in [-1, 1], shape `(time,)`.

This module imports neither TensorFlow nor Keras.
"""

import io
import math
import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

from vq_zoo.utils.io import write_atomic

INSTALL = "apt-get update && apt-get install -y espeak-ng flite sox"


class AudioError(ValueError):
    """A file that is missing or not audio we can read (one-line message)."""


def _decode_pcm(frames, width, channels):
    if width == 1:
        x = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    elif width == 4:
        x = (np.frombuffer(frames, "<i4").astype(np.float64) / 2.0 ** 31).astype(np.float32)
    else:
        raise AudioError(f"unsupported WAV sample width {width} bytes")
    return x.reshape(-1, channels).mean(axis=1) if channels > 1 else x


def read_wav_bytes(data, name="<bytes>"):
    """`(audio, sample_rate)` from the bytes of a PCM WAV file (mono; more
    channels are averaged)."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{name} is not a PCM WAV file ({e})") from None
    audio = _decode_pcm(frames, width, channels)
    return audio.astype(np.float32), int(rate)


def read_audio(path):
    """`(audio, sample_rate)` from an audio file: PCM WAV directly, any
    other format `sox` reads (FLAC, AIFF, ...) through `sox`. Raises
    `AudioError` (a ValueError) with one line for a missing file or a file
    that is not audio."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(f"{path} not found")
    if os.path.isdir(path):
        raise AudioError(f"{path} is a folder, not an audio file")
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return read_wav_bytes(data, path)
    sox = shutil.which("sox")
    if sox is None:
        raise AudioError(f"{path} is not a WAV file, and reading other formats needs "
                         f"sox: {INSTALL}")
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "audio.wav")
        result = subprocess.run([sox, path, "-b", "16", "-c", "1", out],
                                capture_output=True, text=True)
        if result.returncode != 0 or not os.path.exists(out):
            raise AudioError(f"{path} is not an audio file (neither WAV nor a format "
                             "sox reads)")
        with open(out, "rb") as f:
            return read_wav_bytes(f.read(), path)


def wav_bytes(audio, sample_rate):
    """16-bit PCM mono WAV bytes of float audio in [-1, 1] (clipped)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_wav(path, audio, sample_rate):
    """Writes float audio in [-1, 1] as a 16-bit PCM mono WAV, atomically."""
    write_atomic(path, wav_bytes(audio, sample_rate))


def resample(audio, rate_in, rate_out):
    """`audio` at `rate_out` (polyphase filter, `scipy.signal.resample_poly`
    with the reduced ratio); the input itself if the rates are equal."""
    rate_in, rate_out = int(rate_in), int(rate_out)
    audio = np.asarray(audio, np.float32)
    if rate_in == rate_out:
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(rate_in, rate_out)
    return resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def trim_silence(audio, threshold=0.01, margin=160):
    """`audio` without leading and trailing samples below `threshold`
    (absolute), keeping `margin` samples on each side."""
    loud = np.flatnonzero(np.abs(audio) >= threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[max(0, loud[0] - margin): loud[-1] + 1 + margin]


__all__ = ["AudioError", "read_audio", "read_wav_bytes", "resample", "trim_silence",
           "wav_bytes", "write_wav", "INSTALL"]
