"""The codes of a whole folder of images, in batches, to one `.npz`.

    vq-zoo encode RUN_OR_PRESET MY_IMAGES/ --out codes.npz

Every image under the folder (`vq_zoo.data.image_folder`: recursive, any
format and mode it reads) is prepared as the model's training images were
(central square resized to the model's size, its channel count) and
encoded in batches with a progress bar. The `.npz` holds one int32 array per
code level (`codes`; a VQ-VAE-2: `top`, `bottom`, ...), `paths` (each row's
path relative to the folder) and, when the folder has class subfolders,
`labels` and `class_names`. Unreadable files are skipped and reported.
"""

import io
import os

import numpy as np


def encode_folder(vqvae, directory, out, batch_size=64, verbose=1, family=None):
    """Encodes every image under `directory` and writes `out` (`.npz`,
    atomically).

    Args:
        vqvae: an image autoencoder (a `VQVAE` or `VQVAE2`, built for its
            image shape).
        family: the model family whose autoencoder it is (its
            `code_levels` and `encode_images` encode the batches); None:
            `vq_zoo.models.family.autoencoder_family(vqvae)`.
        directory: the folder (searched recursively).
        out: the `.npz` path.
        batch_size: images per batch.
        verbose: 1 shows a progress bar and what was skipped.

    Returns:
        `(arrays written, the ImageFolder)`.
    """
    import keras

    from vq_zoo.data.image_folder import ImageFolder
    from vq_zoo.data.image_folder import _make_dataset
    from vq_zoo.export.saved_model import image_shape
    from vq_zoo.models.family import autoencoder_family
    from vq_zoo.utils.io import write_atomic

    family = family or autoencoder_family(vqvae)

    height, width, channels = image_shape(vqvae)
    if height != width:
        raise ValueError(f"this model takes {height}x{width} images: encoding a "
                         "folder needs a model of square images")
    # Every file, in path order (the split does not matter here).
    folder = ImageFolder.scan(directory, channels=channels, verbose=verbose,
                              require_splits=False)
    paths = [os.path.join(folder.directory, f) for f in folder.files]
    ds = _make_dataset(paths, height, channels, batch_size, shuffle=False,
                       repeat=False, seed=0, cache=False)
    levels = list(family.code_levels(vqvae) or ["codes"])
    codes = {k: [] for k in levels}
    bar = keras.utils.Progbar(len(paths), unit_name="image") if verbose else None
    done = 0
    for batch in ds:
        encoded = family.encode_images(vqvae, batch)
        for k in levels:
            codes[k].append(np.asarray(encoded[k] if isinstance(encoded, dict) else encoded,
                                       np.int32))
        done += int(batch.shape[0])
        if bar is not None:
            bar.update(done)
    arrays = {k: np.concatenate(v) for k, v in codes.items()}
    arrays["paths"] = np.asarray(folder.files, dtype=str)
    if folder.labels is not None:
        arrays["labels"] = np.asarray(folder.labels, np.int32)
        arrays["class_names"] = np.asarray(folder.class_names, dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(out, buffer.getvalue())
    return arrays, folder


__all__ = ["encode_folder"]
