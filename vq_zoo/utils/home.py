"""The one folder vq_zoo keeps its files in: `$VQ_ZOO_HOME`, by default
`~/.cache/vq_zoo` (like `~/.cache/huggingface`): the user's presets
(`presets/`, where `vq-zoo export` writes), rendered memory-maze episodes
(`memory_maze/`), downloaded photos (`opencv_photos/`). Imports neither
TensorFlow nor Keras."""

import os
import pathlib

HOME_ENV = "VQ_ZOO_HOME"
DEFAULT_HOME = os.path.join("~", ".cache", "vq_zoo")


def vq_zoo_home():
    """`$VQ_ZOO_HOME` (a `pathlib.Path`, `~` expanded), default
    `~/.cache/vq_zoo`."""
    return pathlib.Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()
