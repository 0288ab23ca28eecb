"""Import TensorFlow without its start-up lines on stderr."""

import os
import sys


def import_tensorflow_quietly():
    """Imports TensorFlow and initialises its devices with stderr (the file
    descriptor, not only `sys.stderr`) pointed at /dev/null.

    TensorFlow writes its start-up lines (oneDNN, CUDA stubs, CPU features,
    `failed call to cuInit` on a machine without a GPU) from C++ before it
    reads any log level, some at import and some when it first lists its
    devices, so `TF_CPP_MIN_LOG_LEVEL` alone does not hide them. Later
    messages, errors and Python tracebacks are shown as usual. Does nothing
    once TensorFlow is imported.

    Returns:
        The `tensorflow` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor
        saved = None
    if saved is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    return tf
