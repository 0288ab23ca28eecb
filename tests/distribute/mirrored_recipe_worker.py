"""Runs `vq-zoo train vctk --config smoke` (the WORLD decoder with the
content cycle) under `--strategy mirrored` on 2 logical CPU devices, in a
fresh process (the devices must exist before TensorFlow initialises).

    python mirrored_recipe_worker.py OUT_DIR
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

from vq_zoo.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", "vctk", "--config", "smoke", "--out-dir", sys.argv[1],
                   "--strategy", "mirrored", "--set", "pitch_condition=true",
                   "--set", "vocoder=world", "--set", "cycle_weight=1.0",
                   "--set", "cycle_trains_decoder=false"]))
