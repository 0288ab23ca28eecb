"""tfds `vctk` (CSTR VCTK 0.92: 110 English speakers, about 44 hours) as
16 kHz float audio with speaker ids: random fixed-length crops for
training, whole utterances for evaluation.

The builder records at 48 kHz int16 (`features["speech"].sample_rate`, read
from the builder, not assumed); audio is scaled to [-1, 1] and resampled to
`sample_rate` (`scipy.signal.resample_poly`). tfds has one `train` split:
it is divided by utterance into train / validation / test by
`split_ranges(test_percent)` (the speakers are shared by the splits).

Needs the prepared dataset (`tfds build vctk`, an 11 GB download, in
`data_dir`); tests drive this code with `tfds.testing.mock_data`.
"""

import numpy as np

from vq_zoo.utils.audio import resample

NAME = "vctk"


def split_ranges(test_percent=5):
    """tfds split strings `{"train", "validation", "test"}` over VCTK's one
    split: the last `test_percent` percent is test, the same before it
    validation."""
    if not 0 < test_percent < 50:
        raise ValueError(f"`test_percent` must be in (0, 50), got {test_percent}")
    a, b = 100 - 2 * test_percent, 100 - test_percent
    return {"train": f"train[:{a}%]", "validation": f"train[{a}%:{b}%]",
            "test": f"train[{b}%:]"}


def _builder(config, data_dir):
    import tensorflow_datasets as tfds

    return tfds.builder(f"{NAME}/{config}", data_dir=data_dir)


def source_rate(config="mic1", data_dir=None):
    """The builder's sample rate (48,000 for VCTK)."""
    return int(_builder(config, data_dir).info.features["speech"].sample_rate)


def speaker_names(config="mic1", data_dir=None):
    return list(_builder(config, data_dir).info.features["speaker"].names)


def _load(split, config, data_dir, test_percent):
    import tensorflow_datasets as tfds

    return tfds.load(f"{NAME}/{config}", split=split_ranges(test_percent)[split],
                     data_dir=data_dir, download=False, shuffle_files=False)


def _to_float(speech):
    return np.asarray(speech, np.float32) / 32768.0


def utterances(split, config="mic1", data_dir=None, sample_rate=16000,
               max_utterances=None, test_percent=5):
    """`(audios, speakers)`: a list of float32 arrays at `sample_rate` and
    int32 speaker ids, the first `max_utterances` of `split` in order."""
    rate = source_rate(config, data_dir)
    audios, speakers = [], []
    ds = _load(split, config, data_dir, test_percent)
    if max_utterances:
        ds = ds.take(max_utterances)
    for example in ds.as_numpy_iterator():
        audios.append(resample(_to_float(example["speech"]), rate, sample_rate))
        speakers.append(int(example["speaker"]))
    return audios, np.asarray(speakers, "int32")


def crops(split, crop_length, batch_size, config="mic1", data_dir=None,
          sample_rate=16000, seed=0, test_percent=5, repeat=True):
    """A `tf.data.Dataset` of `(audio (batch, crop_length, 1) float32,
    speaker (batch,) int32)`: one random crop per utterance and pass
    (utterances shorter than a crop are zero-padded at the end), shuffled,
    batched with `drop_remainder`; the crop is taken at the source rate and
    then resampled."""
    import tensorflow as tf

    rate = source_rate(config, data_dir)
    source_len = int(np.ceil(crop_length * rate / sample_rate))
    ds = _load(split, config, data_dir, test_percent)
    ds = ds.shuffle(1024, seed=seed)
    if repeat:
        ds = ds.repeat()

    def crop(example):
        speech = example["speech"]
        pad = tf.maximum(source_len - tf.shape(speech)[0], 0)
        speech = tf.pad(speech, [[0, pad]])
        start = tf.random.uniform((), 0, tf.shape(speech)[0] - source_len + 1,
                                  dtype=tf.int32, seed=seed)
        return speech[start:start + source_len], tf.cast(example["speaker"], tf.int32)

    def to_rate(speech):
        out = resample(_to_float(speech), rate, sample_rate)[:crop_length]
        return np.pad(out, (0, crop_length - out.size)).astype(np.float32)

    def convert(speech, speaker):
        audio = tf.numpy_function(to_rate, [speech], tf.float32)
        audio = tf.reshape(audio, (crop_length, 1))
        return audio, speaker

    ds = ds.map(crop).map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


__all__ = ["crops", "source_rate", "speaker_names", "split_ranges", "utterances"]
