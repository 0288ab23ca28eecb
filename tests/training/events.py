"""Reads TensorBoard event files back, for the tests."""

import glob
import os

import numpy as np
import tensorflow as tf


def read_run(run_dir):
    """Returns `{tag: {step: value}}` for a run directory's event files:
    scalars as floats, images as decoded uint8 arrays, other tensors as
    arrays; plus `{tag: plugin_name}`."""
    values, plugins = {}, {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                plugin = v.metadata.plugin_data.plugin_name or plugins.get(v.tag)
                plugins[v.tag] = plugin
                array = tf.make_ndarray(v.tensor)
                if plugin == "images":
                    # [width, height, png, ...]
                    value = tf.io.decode_png(array[2]).numpy()
                    assert value.shape[:2] == (int(array[1]), int(array[0]))
                elif plugin == "scalars":
                    value = float(array)
                else:
                    value = np.asarray(array)
                values.setdefault(v.tag, {})[event.step] = value
    return values, plugins
