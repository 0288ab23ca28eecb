"""Datasets: `image_folder` (a folder of the user's own images) and
`audio_folder` (a folder of recordings, one subfolder per speaker) give
`tf.data.Dataset`s that `fit` takes; the other modules build the recipes'
datasets (tfds loaders, bundled photos, rendered frames) and `codes` reads
and writes extracted codes."""

from vq_zoo.data.image_folder import ImageFolder  # noqa: F401
from vq_zoo.data.image_folder import image_folder  # noqa: F401
from vq_zoo.data.audio_folder import AudioFolder  # noqa: F401
from vq_zoo.data.audio_folder import audio_folder  # noqa: F401
