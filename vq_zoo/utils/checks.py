"""Checks of integer tensors shared by the models."""

import keras
import numpy as np


def int_range_assertions(x, upper, name):
    """Checks that the integer tensor `x` lies in `[0, upper)`.

    Eagerly, raises a `ValueError` naming `name`, the range and the values
    found, and returns `[]`; in a graph, returns the assertion ops, which a
    caller puts in `tf.control_dependencies` of whatever must not run on bad
    values (`Task.train_step` holds the whole step behind them). A
    non-integer dtype is refused in both cases.
    """
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
