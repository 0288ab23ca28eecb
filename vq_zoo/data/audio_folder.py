"""A folder of the user's own recordings, one subfolder per speaker, as
`tf.data` datasets (and as the in-memory splits the speech recipe trains on).

    folder = AudioFolder.scan("my_voices", sample_rate=16000)
    train = folder.dataset("train", crop_length=4096, batch_size=16)
    # or: vq_zoo.data.audio_folder("my_voices", sample_rate=16000)

What it reads: every `.wav`, `.flac` and `.ogg` (Vorbis or Opus) under the
folder, searched recursively (hidden files and folders left out), decoded
by libsndfile (`soundfile`), any sample rate, any channel count: channels are
averaged to mono and the audio resampled to `sample_rate` by a polyphase
filter (`scipy.signal.resample_poly`, the rates' ratio reduced by their
gcd).

Speakers: each first-level subfolder is a speaker (sorted by name); files
directly in the folder are skipped. Split: by the hash of each file's
relative path, as `image_folder.split_of` (`test_fraction`,
`validation_fraction`); every speaker needs a training utterance.

Skipped, with a count and the first names (`AudioFolder.skipped`): files
that cannot be decoded, empty files (0 samples), silent files (peak below
`silence_db` dBFS), files shorter than `min_seconds`, and files outside the
speaker folders. Errors (`AudioFolderError`, one line naming the folder and
what was expected): a missing folder, no audio files, fewer than two
speakers, no usable file, a split left empty, a speaker without training
audio.
"""

import dataclasses
import hashlib
import json
import math
import os

import numpy as np

from vq_zoo.data.image_folder import SHOWN
from vq_zoo.data.image_folder import SPLITS
from vq_zoo.data.image_folder import _names
from vq_zoo.data.image_folder import split_of

EXTENSIONS = (".wav", ".flac", ".ogg")
INSTALL = "pip install soundfile scipy (or pip install 'vq_zoo[audio]')"


class AudioFolderError(OSError, ValueError):
    """The folder cannot give a dataset; the message (one line) names the
    folder and what was expected."""


def _find_files(directory):
    found, others = [], 0
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            if name.lower().endswith(EXTENSIONS):
                found.append(os.path.relpath(os.path.join(root, name), directory)
                             .replace(os.sep, "/"))
            else:
                others += 1
    return sorted(found), others


def read_mono(path, sample_rate):
    """`(audio, native rate)`: a file decoded by libsndfile, its channels
    averaged, resampled to `sample_rate` (float32, 1-D). Raises whatever
    `soundfile` raises for a file it cannot decode."""
    try:
        import soundfile
        from scipy.signal import resample_poly
    except ImportError as e:
        raise ImportError(f"reading audio folders needs soundfile and scipy: "
                          f"{INSTALL} ({e})") from None
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != sample_rate and audio.size:
        g = math.gcd(int(rate), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, rate // g).astype(np.float32)
    return np.ascontiguousarray(audio, np.float32), int(rate)


@dataclasses.dataclass(frozen=True, eq=False)
class AudioFolder:
    """A scanned folder of recordings (`AudioFolder.scan`).

    Attributes:
        directory: the folder.
        files: the usable files' relative paths (sorted).
        speakers: the speaker index of each file.
        speaker_names: the speaker folders' names (index order).
        splits: the split of each file.
        audios: each file's audio, float32 mono at `sample_rate`.
        sample_rate: the rate everything was resampled to.
        native_rates: `{rate: number of files}` as found.
        skipped: `{reason: [relative paths]}`.
        other_files: files of other types (by extension), ignored.
    """

    directory: str
    files: tuple
    speakers: tuple
    speaker_names: tuple
    splits: tuple
    audios: tuple
    sample_rate: int
    native_rates: dict
    skipped: dict
    other_files: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    @classmethod
    def scan(cls, directory, sample_rate=16000, validation_fraction=0.1,
             test_fraction=0.1, min_seconds=0.1, silence_db=-60.0, verbose=0):
        """Reads every recording of the folder into memory (see the module
        docstring for what is read, skipped and refused)."""
        directory = os.fspath(directory)
        what = ("a folder with one subfolder of recordings (.wav, .flac, .ogg) per "
                "speaker")
        if not os.path.isdir(directory):
            raise AudioFolderError(f"{directory} is not a folder: expected {what}")
        files, others = _find_files(directory)
        if not files:
            raise AudioFolderError(
                f"{directory} holds no audio files"
                + (f" ({others} files of other types)" if others else "")
                + f": expected {what}")
        skipped = {}
        outside = [f for f in files if "/" not in f]
        if outside:
            skipped["outside the speaker folders"] = outside
        files = [f for f in files if "/" in f]
        names = sorted({f.split("/", 1)[0] for f in files})
        if len(names) < 2:
            found = f"one speaker folder ({names[0]})" if names else "no speaker folder"
            raise AudioFolderError(
                f"{directory} holds {found}: expected {what}, two or more (the "
                "decoder is conditioned on the speaker)")
        kept, audios, rates = [], [], {}
        peak_floor = 10.0 ** (silence_db / 20.0)
        for f in files:
            try:
                audio, rate = read_mono(os.path.join(directory, f), sample_rate)
            except ImportError:
                raise
            except Exception:  # noqa: BLE001 (libsndfile's errors vary by format)
                skipped.setdefault("unreadable (truncated, corrupt or not audio)",
                                   []).append(f)
                continue
            if audio.size == 0:
                skipped.setdefault("empty (0 samples)", []).append(f)
            elif not np.isfinite(audio).all() or np.abs(audio).max() < peak_floor:
                skipped.setdefault(f"silent (peak below {silence_db:g} dBFS)",
                                   []).append(f)
            elif audio.size < min_seconds * sample_rate:
                skipped.setdefault(f"shorter than {min_seconds:g} s", []).append(f)
            else:
                kept.append(f)
                audios.append(audio)
                rates[rate] = rates.get(rate, 0) + 1
        if not kept:
            bad = [p for paths in skipped.values() for p in paths]
            raise AudioFolderError(
                f"{directory}: none of its {len(files)} audio files is usable "
                f"({_names(bad)}): expected WAV, FLAC or OGG speech, not empty or silent")
        index = {n: i for i, n in enumerate(names)}
        speakers = [index[f.split("/", 1)[0]] for f in kept]
        present = sorted(set(speakers))
        if len(present) < 2:
            raise AudioFolderError(
                f"{directory}: only the speaker {names[present[0]]} has usable "
                f"recordings: expected {what}, two or more")
        if len(present) < len(names):  # a speaker folder of unusable files only
            used = [names[i] for i in present]
            speakers = [used.index(names[s]) for s in speakers]
            names = used
        splits = [split_of(f, validation_fraction, test_fraction) for f in kept]
        counts = {s: splits.count(s) for s in SPLITS}
        if any(counts[s] == 0 for s in SPLITS):
            raise AudioFolderError(
                f"{directory}: its {len(kept)} usable recordings give "
                + ", ".join(f"{counts[s]} {s}" for s in SPLITS)
                + f" (split by a hash of each path, validation_fraction="
                f"{validation_fraction}, test_fraction={test_fraction}): expected at "
                "least one in every split; add recordings or raise the fractions")
        untrained = [names[i] for i in range(len(names))
                     if not any(s == i and p == "train" for s, p in zip(speakers, splits))]
        if untrained:
            raise AudioFolderError(
                f"{directory}: the speakers {', '.join(untrained)} have no recording in "
                "the training split: expected several recordings per speaker")
        folder = cls(directory=directory, files=tuple(kept), speakers=tuple(speakers),
                     speaker_names=tuple(names), splits=tuple(splits),
                     audios=tuple(audios), sample_rate=int(sample_rate),
                     native_rates=rates, skipped=skipped, other_files=others,
                     validation_fraction=validation_fraction,
                     test_fraction=test_fraction)
        if verbose:
            print(folder.describe(), flush=True)
        return folder

    # ----------------------------------------------------------- splits
    def split(self, split):
        """`(audios, speakers)` of `split`: a list of float32 arrays and
        int32 speaker indices, in path order (the speech recipe's form)."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
        keep = [i for i, s in enumerate(self.splits) if s == split]
        return ([self.audios[i] for i in keep],
                np.asarray([self.speakers[i] for i in keep], np.int32))

    def dataset(self, split="train", crop_length=4096, batch_size=16, shuffle=None,
                repeat=None, seed=0):
        """A `tf.data.Dataset` of `(audio (batch, crop_length, 1), speakers)`.

        Training (`shuffle`, default for "train"): random crops of random
        utterances, forever (`repeat` is implied), seeded. Otherwise every
        utterance cut into consecutive `crop_length` chunks (the last one
        zero-padded), in order, once (or forever with `repeat`).
        """
        import tensorflow as tf

        audios, speakers = self.split(split)
        shuffle = (split == "train") if shuffle is None else shuffle
        spec = (tf.TensorSpec((crop_length, 1), tf.float32),
                tf.TensorSpec((), tf.int32))
        if shuffle:
            def crops():
                rng = np.random.default_rng(seed)
                while True:
                    u = int(rng.integers(len(audios)))
                    a = audios[u]
                    start = int(rng.integers(0, max(1, a.size - crop_length + 1)))
                    piece = np.zeros((crop_length, 1), np.float32)
                    chunk = a[start:start + crop_length]
                    piece[:chunk.size, 0] = chunk
                    yield piece, np.int32(speakers[u])

            ds = tf.data.Dataset.from_generator(crops, output_signature=spec)
            return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
        pieces, owners = [], []
        for a, s in zip(audios, speakers):
            for start in range(0, a.size, crop_length):
                piece = np.zeros((crop_length, 1), np.float32)
                chunk = a[start:start + crop_length]
                piece[:chunk.size, 0] = chunk
                pieces.append(piece)
                owners.append(s)
        ds = tf.data.Dataset.from_tensor_slices(
            (np.stack(pieces), np.asarray(owners, np.int32)))
        if repeat:
            ds = ds.repeat()
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # ---------------------------------------------------------- records
    def describe(self):
        counts = ", ".join(f"{self.splits.count(s)} {s}" for s in SPLITS)
        seconds = sum(a.size for a in self.audios) / self.sample_rate
        lines = [f"{self.directory}: {len(self.files)} recordings ({counts}), "
                 f"{seconds / 60:.1f} min at {self.sample_rate} Hz (from "
                 + ", ".join(f"{n} at {r} Hz" for r, n in sorted(self.native_rates.items()))
                 + f"), {len(self.speaker_names)} speakers: "
                 + _names(list(self.speaker_names))]
        for reason, paths in self.skipped.items():
            lines.append(f"  skipped {len(paths)} {reason}: {_names(paths)}")
        if self.other_files:
            lines.append(f"  ignored {self.other_files} files of other types")
        return "\n".join(lines)

    def summary(self):
        """A small JSON-able dict of the scan (no audio)."""
        digest = hashlib.sha256("\n".join(
            f"{s}\t{k}\t{f}" for f, s, k in zip(self.files, self.splits, self.speakers)
        ).encode()).hexdigest()
        return {
            "source": "audio_folder",
            "directory": os.path.abspath(self.directory),
            "speakers": list(self.speaker_names),
            "num_recordings": {s: self.splits.count(s) for s in SPLITS},
            "seconds": round(sum(a.size for a in self.audios) / self.sample_rate, 2),
            "sample_rate": self.sample_rate,
            "native_rates": {str(k): v for k, v in self.native_rates.items()},
            "skipped": {r: {"count": len(p), "first": p[:SHOWN]}
                        for r, p in self.skipped.items()},
            "other_files": self.other_files,
            "validation_fraction": self.validation_fraction,
            "test_fraction": self.test_fraction,
            "files_sha256": digest,
        }

    def write(self, path):
        """Records the scan (every file's split and speaker) as JSON,
        atomically."""
        from vq_zoo.utils.io import write_atomic

        record = dict(self.summary(), files=list(self.files), splits=list(self.splits),
                      speaker_of_file=list(self.speakers))
        write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())


def audio_folder(directory, sample_rate=16000, split="train", crop_length=4096,
                 batch_size=16, shuffle=None, repeat=None, seed=0,
                 validation_fraction=0.1, test_fraction=0.1, verbose=0):
    """A `tf.data.Dataset` of one split of a folder of recordings (one
    subfolder per speaker), ready for a speech VQ-VAE's `fit`:
    `AudioFolder.scan(...).dataset(split, ...)`.

    Returns:
        Batches `(audio (batch, crop_length, 1) float32, speakers int32)`.

    Example:

    ```python
    import vq_zoo

    train = vq_zoo.data.audio_folder("my_voices", sample_rate=16000)
    audio, speakers = next(iter(train))
    ```
    """
    folder = AudioFolder.scan(directory, sample_rate, validation_fraction,
                              test_fraction, verbose=verbose)
    return folder.dataset(split, crop_length, batch_size, shuffle=shuffle,
                          repeat=repeat, seed=seed)


__all__ = ["AudioFolder", "AudioFolderError", "audio_folder", "read_mono"]
