"""Mono audio files: read with libsndfile (`soundfile`: PCM, IEEE float and
extensible WAV, FLAC, OGG, ...) where it is installed, else PCM WAV with
Python's `wave` module; any other format through `sox`. Written as 16-bit
PCM WAV (atomically). Resampling with `scipy.signal.resample_poly`.

Audio in memory is float32 in [-1, 1], shape `(time,)`.

Limits (`read_audio`, a one-line `AudioError` beyond them, checked from the
file's header before its samples are read): sample rates from
`MIN_SAMPLE_RATE` to `MAX_SAMPLE_RATE` Hz, at most `MAX_SECONDS` of audio
(10 minutes; split a longer recording first, e.g. `sox long.wav part.wav
trim 0 600 : newfile : restart`), regular files only (not `/dev/zero`).

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


MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
MAX_SECONDS = 600.0
SPLIT_HINT = "split it first, e.g. sox IN.wav PART.wav trim 0 600 : newfile : restart"


class AudioError(ValueError):
    """A file that is missing or not audio we can read (one-line message)."""


def check_header(name, sample_rate, frames, max_seconds=MAX_SECONDS):
    """Refuses (AudioError) a sample rate outside the supported range, an
    empty file, or more than `max_seconds` of audio, from header values."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"{name}: sample rate {sample_rate} Hz is outside the supported "
                         f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if frames <= 0:
        raise AudioError(f"{name} holds no samples")
    if max_seconds is not None and frames / sample_rate > max_seconds:
        raise AudioError(f"{name} holds {frames / sample_rate:.0f} s of audio, more than "
                         f"the {max_seconds:.0f} s limit: {SPLIT_HINT}")


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


def read_wav_bytes(data, name="<bytes>", max_seconds=MAX_SECONDS):
    """`(audio, sample_rate)` from the bytes of a PCM WAV file (mono; more
    channels are averaged), within the module's limits."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            check_header(name, rate, w.getnframes(), max_seconds)
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{name} is not a PCM WAV file ({e})") from None
    if len(frames) % (width * channels):
        raise AudioError(f"{name}: its sample data end in a partial frame (truncated?)")
    audio = _decode_pcm(frames, width, channels)
    return audio.astype(np.float32), int(rate)


def _read_soundfile(soundfile, path, max_seconds):
    try:
        info = soundfile.info(path)
    except Exception:  # libsndfile cannot parse it: sox may
        return None
    check_header(path, int(info.samplerate), int(info.frames), max_seconds)
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"{path}: its audio data cannot be decoded "
                         f"({str(e).strip().splitlines()[0] if str(e).strip() else e})") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{path} holds no samples")
    return audio.mean(axis=1).astype(np.float32), int(rate)


def _read_with_sox(path, max_seconds):
    sox = shutil.which("sox")
    if sox is None:
        raise AudioError(f"{path} is neither audio libsndfile reads nor a PCM WAV, and "
                         f"reading other formats needs sox: {INSTALL}")
    info = subprocess.run([sox, "--i", path], capture_output=True, text=True)
    if info.returncode != 0:
        raise AudioError(f"{path} is not an audio file (neither WAV nor a format "
                         "sox reads)")
    fields = {key.strip(): value for key, value in (
        line.split(":", 1) for line in info.stdout.splitlines() if ":" in line)}
    try:
        rate = int(float(fields.get("Sample Rate", "0").strip()))
        duration = fields.get("Duration", "").split("=")[1].split()[0]
        frames = int(duration)
    except (IndexError, ValueError):
        raise AudioError(f"{path}: sox reports no sample rate and length") from None
    check_header(path, rate, frames, max_seconds)
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "audio.wav")
        result = subprocess.run([sox, path, "-b", "16", "-c", "1", out],
                                capture_output=True, text=True)
        if result.returncode != 0 or not os.path.exists(out):
            raise AudioError(f"{path} is not an audio file (neither WAV nor a format "
                             "sox reads)")
        with open(out, "rb") as f:
            return read_wav_bytes(f.read(), path, max_seconds)


def read_audio(path, max_seconds=MAX_SECONDS):
    """`(audio, sample_rate)` from an audio file: libsndfile's formats
    (WAV of any encoding, FLAC, OGG, ...) with `soundfile` where it is
    installed, else PCM WAV directly; any other format `sox` reads through
    `sox`. Channels are averaged. Raises `AudioError` (a ValueError) with one
    line for a missing file, something that is not a regular file, a file
    that is not audio, and a sample rate or length beyond the module's
    limits (checked from the header, before the samples are read;
    `max_seconds=None` lifts the length limit)."""
    import stat

    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(f"{path} not found")
    if os.path.isdir(path):
        raise AudioError(f"{path} is a folder, not an audio file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise AudioError(f"{path} is not a regular file (a device or a pipe); give an "
                         "audio file")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    except OSError:  # the wheel is there but libsndfile does not load
        soundfile = None
    if soundfile is not None:
        result = _read_soundfile(soundfile, path, max_seconds)
        if result is not None:
            return result
    else:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            with open(path, "rb") as f:
                try:
                    return read_wav_bytes(f.read(), path, max_seconds)
                except AudioError as e:
                    if "not a PCM WAV" not in str(e):
                        raise  # a PCM WAV beyond the limits: sox would not help
    return _read_with_sox(path, max_seconds)


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
    if rate_in < 1 or rate_out < 1:
        raise AudioError(f"sample rates must be >= 1 Hz, got {rate_in} -> {rate_out}")
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


__all__ = ["AudioError", "check_header", "read_audio", "read_wav_bytes", "resample",
           "trim_silence", "wav_bytes", "write_wav", "INSTALL", "MAX_SAMPLE_RATE",
           "MAX_SECONDS", "MIN_SAMPLE_RATE"]
