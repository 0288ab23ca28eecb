"""Image grids and atomic PNG writing."""

import os
import tempfile

import numpy as np


def image_grid(images, columns=8, padding=1):
    """Tiles `(n, h, w, c)` images in [0, 1] into one uint8 `(H, W, c)` image,
    `columns` to a row, with white padding."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.ones((rows * (h + padding) + padding,
                    columns * (w + padding) + padding, c), np.float32)
    for i in range(n):
        r, k = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return (grid * 255.0 + 0.5).astype(np.uint8)


def write_atomic(path, data):
    """Writes bytes to `path` via a temporary file and a rename, so a reader
    never sees a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_png(path, image):
    """Writes a uint8 `(H, W, c)` image (c in 1, 3, 4) as PNG, atomically."""
    import tensorflow as tf

    write_atomic(path, tf.io.encode_png(np.asarray(image, np.uint8)).numpy())
