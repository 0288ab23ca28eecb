"""Checks of inputs shared by the models: integer ranges, audio, speakers,
the layers' numeric arguments (`check_positive_int`, `check_real`, `check_bool`,
`check_seed`) and the models' and data builders' (`check_int`, `check_choice`)."""

import numpy as np
# Keras and TensorFlow are imported where used: the data builders use this.


def int_range_assertions(x, upper, name):
    """Checks that the integer tensor `x` lies in `[0, upper)`; a
    non-integer dtype is refused. Eagerly, raises a `ValueError` naming
    `name`, the range and the values found, and returns `[]`; in a graph,
    returns the assertion ops, which a caller puts in
    `tf.control_dependencies` of whatever must not run on bad values
    (`Task.train_step` holds the whole step behind them)."""
    import keras

    dtype = keras.backend.standardize_dtype(x.dtype)
    if not dtype.startswith(("int", "uint")):
        raise ValueError(f"`{name}` must be integers in [0, {upper}), got dtype {dtype}")
    import tensorflow as tf

    if tf.executing_eagerly():
        values = np.asarray(x)
        if values.size and (values.min() < 0 or values.max() >= upper):
            raise ValueError(
                f"`{name}` must be integers in [0, {upper}), got values in "
                f"[{values.min()}, {values.max()}]"
            )
        return []
    x = tf.cast(x, "int64")
    return [
        tf.debugging.assert_greater_equal(
            x, tf.constant(0, "int64"), message=f"`{name}` must be integers >= 0"),
        tf.debugging.assert_less(
            x, tf.constant(upper, "int64"), message=f"`{name}` must be integers < {upper}"),
    ]


# Audio far outside [-1, 1] is almost always integer PCM cast to float
# without scaling; a little overshoot (resampling) is clipped downstream.
AUDIO_PEAK_LIMIT = 1.5


def audio_peak_assertions(audio, name="audio"):
    """Checks that the finite samples of float `audio` lie within
    +-`AUDIO_PEAK_LIMIT` (non-finite ones are left to the step's non-finite
    guard). Eagerly, raises a `ValueError`; in a graph, returns the
    assertion ops (see `int_range_assertions`)."""
    import tensorflow as tf

    x = tf.cast(audio, "float32")
    peak = tf.reduce_max(tf.where(tf.math.is_finite(x), tf.abs(x), 0.0))
    if tf.executing_eagerly():
        if float(peak) > AUDIO_PEAK_LIMIT:
            raise ValueError(_peak_message(name, float(peak)))
        return []
    return [tf.debugging.assert_less_equal(
        peak, AUDIO_PEAK_LIMIT, message=_peak_message(name, None))]


def _peak_message(name, peak):
    found = f"its peak is {peak:g}" if peak is not None else \
        f"its peak is above {AUDIO_PEAK_LIMIT}"
    return (f"`{name}` must be float audio in [-1, 1], {found} (16-bit PCM: divide "
            "by 32768)")


def check_mono_audio(audio, name="audio"):
    """`audio` as float32 `(batch, time)` from `(batch, time)` or `(batch,
    time, 1)` float audio in [-1, 1]; a ValueError naming what is wrong
    (integer PCM, several channels, NaN/Inf, a peak far outside [-1, 1])."""
    audio = np.asarray(audio)
    if audio.dtype.kind != "f":
        hint = " (16-bit PCM: audio / 32768)" if audio.dtype.kind in "iu" else ""
        raise ValueError(f"`{name}` must be float audio in [-1, 1], got dtype "
                         f"{audio.dtype}{hint}")
    if audio.ndim == 3:
        if audio.shape[2] != 1:
            raise ValueError(f"`{name}` must be mono, (batch, time) or (batch, time, 1); "
                             f"got {audio.shape[2]} channels (average them first: "
                             "audio.mean(axis=-1))")
        audio = audio[..., 0]
    if audio.ndim != 2:
        raise ValueError(f"`{name}` must have shape (batch, time) or (batch, time, 1), "
                         f"got {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"`{name}` holds NaN or infinite samples")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > AUDIO_PEAK_LIMIT:
        raise ValueError(_peak_message(name, peak))
    return audio.astype(np.float32)


def speaker_index(speaker, names, count):
    """The index of `speaker` among `count` speakers: one of `names` (a
    sequence of `count` names, or empty) or an integer index; a ValueError
    listing the known speakers otherwise (booleans and fractional numbers
    are not indices)."""
    names = tuple(names or ())
    if isinstance(speaker, str) and speaker in names:
        return names.index(speaker)
    index = None
    if isinstance(speaker, (bool, np.bool_)):
        index = None
    elif isinstance(speaker, (int, np.integer)):
        index = int(speaker)
    elif isinstance(speaker, (float, np.floating)) and float(speaker).is_integer():
        index = int(speaker)
    elif isinstance(speaker, str) and speaker.strip().lstrip("-").isdigit():
        index = int(speaker)
    if index is None or not 0 <= index < count:
        known = ", ".join(names) if names else f"0..{count - 1}"
        raise ValueError(f"unknown speaker {speaker!r}; known speakers: {known}")
    return index


def array_file_shapes(path):
    """`{name: shape}` of the arrays in a `.npy` (name "") or `.npz` file,
    read from their headers without loading them (a few-KB compressed file
    may claim gigabytes). Raises ValueError for a file that is neither, or
    an array of Python objects."""
    import zipfile

    from vq_zoo.utils.io import read_npy_header

    def header(stream, name):
        shape, dtype = read_npy_header(stream)
        if dtype.hasobject:
            raise ValueError(f"array {name or path!r} holds Python objects, not numbers")
        return shape

    with open(path, "rb") as f:
        magic = f.read(6)
        f.seek(0)
        if magic.startswith(b"PK"):
            shapes = {}
            with zipfile.ZipFile(f) as archive:
                for member in archive.namelist():
                    if not member.endswith(".npy"):
                        raise ValueError(f"{member!r} in the archive is not a .npy array")
                    with archive.open(member) as stream:
                        shapes[member[:-4]] = header(stream, member)
            return shapes
        return {"": header(f, "")}


def check_positive_int(name, value):
    """`value` must be an int >= 1 (not a bool): else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be an integer >= 1. Received: {name}={value!r}"
        )


def check_real(name, value, condition, expected):
    """`value` must be a real number (not a bool) with `condition(value)`."""
    import numbers

    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not condition(value)
    ):
        note = " (a bool is not accepted as a number)" if isinstance(value, bool) else ""
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}={value!r}{note}"
        )


def check_bool(name, value):
    """`value` must be True or False (a NumPy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r}"
        )


def check_seed(seed):
    """`seed` must be None or an int (not a bool)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(
            f"`seed` must be None or an integer. Received: seed={seed!r}"
        )


# Two wordings, both matched by tests: Keras' "`name` must be ... Received:
# name=value" (the layers' arguments, above) and "`name` must be ..., got
# value" (the models' and data builders', below).
def check_integer(name, value, minimum):
    """Raises a ValueError naming `name` unless `value` is an int (not a
    bool) >= `minimum` (Keras' wording, as `check_positive_int`)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        note = " (a bool is not accepted as an integer)" if isinstance(value, bool) else ""
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: "
            f"{name}={value!r}{note}"
        )


def check_int(name, value, minimum=1, numpy=False):
    """`value` as an int: an integer >= `minimum`, not a bool (a NumPy
    integer too where `numpy`); else a ValueError naming it."""
    types = (int, np.integer) if numpy else int
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, types) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name, value, choices):
    """`value` must be one of `choices` (a tuple, written as Python writes
    it in the message); else a ValueError naming it."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}")
    return value


def checked_int_range(x, upper, name):
    """Raises a ValueError (eagerly) or asserts (in a graph) that
    `0 <= x < upper`; returns `x` as int32."""
    import tensorflow as tf
    from keras import ops

    checks = int_range_assertions(x, upper, name)
    x = ops.cast(x, "int32")
    if not checks:
        return x
    with tf.control_dependencies(checks):
        return tf.identity(x)
