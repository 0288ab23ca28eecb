"""Image grids, reading image files with clear errors, and atomic PNG/JPEG
writing."""

import os
import re

import numpy as np

from vq_zoo.utils.io import write_atomic

# Extensions `write_image` knows, and the encoder of each.
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


def image_grid(images, columns=8, padding=1, upscale=1):
    """Tiles `(n, h, w, c)` images in [0, 1] into one uint8 `(H, W, c)` image,
    `columns` to a row, with white padding.

    Args:
        images: `(n, h, w, c)` or `(n, h, w)` floats in [0, 1].
        columns: images per row.
        padding: white pixels between images (before upscaling).
        upscale: int >= 1; each pixel of the grid becomes an
            `upscale x upscale` block (nearest neighbour), so that 28x28 or
            32x32 images are big enough to see, without blurring them.
    """
    if int(upscale) != upscale or upscale < 1:
        raise ValueError(f"upscale must be an integer >= 1, got {upscale!r}")
    if int(columns) != columns or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}")
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    columns = int(columns)
    rows = -(-n // columns)
    grid = np.ones((rows * (h + padding) + padding,
                    columns * (w + padding) + padding, c), np.float32)
    for i in range(n):
        r, k = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    grid = (grid * 255.0 + 0.5).astype(np.uint8)
    if upscale > 1:
        grid = np.repeat(np.repeat(grid, int(upscale), axis=0), int(upscale), axis=1)
    return grid


def image_format(path):
    """`"png"` or `"jpeg"` from `path`'s extension; a ValueError naming the
    supported extensions otherwise."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in IMAGE_FORMATS:
        raise ValueError(
            f"{path}: unsupported image extension {ext or '(none)'!r}; use one "
            f"of {', '.join(IMAGE_FORMATS)}"
        )
    return IMAGE_FORMATS[ext]


def encode_image(image, fmt):
    """uint8 `(H, W, c)` as PNG or JPEG bytes (JPEG: c in 1, 3)."""
    import tensorflow as tf

    image = np.asarray(image, np.uint8)
    if fmt == "png":
        return tf.io.encode_png(image).numpy()
    if image.shape[-1] == 4:
        image = image[..., :3]
    return tf.io.encode_jpeg(image, quality=95).numpy()


def write_image(path, image):
    """Writes a uint8 `(H, W, c)` image atomically, as PNG or JPEG after the
    extension of `path` (`.png`, `.jpg`, `.jpeg`); any other extension is
    refused before anything is written."""
    write_atomic(path, encode_image(image, image_format(path)))


def write_png(path, image):
    """Writes a uint8 `(H, W, c)` image (c in 1, 3, 4) as PNG, atomically."""
    write_atomic(path, encode_image(image, "png"))


def read_image(path, channels=0):
    """Reads a PNG, JPEG, BMP or (first frame of a) GIF file as uint8
    `(h, w, c)`.

    Args:
        path: the file.
        channels: 0 keeps the file's channels; 1 or 3 converts (grey <-> RGB).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete image of a known format
            (truncated or corrupt), with its name.
    """
    import tensorflow as tf

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError(f"{path}: empty file, not an image")
    try:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = image.numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, ValueError) as e:
        reason = getattr(e, "message", None) or str(e) or type(e).__name__
        # TF prefixes the op's name: keep the decoder's own words.
        reason = re.sub(r"\{\{[^}]*\}\}|\[Op:\w+\]", "", reason).strip()
        reason = reason.splitlines()[0] if reason else type(e).__name__
        raise ValueError(
            f"{path}: not a readable PNG/JPEG/BMP/GIF image (truncated or "
            f"corrupt?): {reason}"
        ) from None
    if image.dtype != np.uint8:  # 16-bit PNG
        image = (image.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    return image


def upscaled_png(source, upscale):
    """The image file at `source` as PNG bytes, upscaled `upscale` times by
    nearest neighbour."""
    image = read_image(source)
    image = np.repeat(np.repeat(image, upscale, axis=0), upscale, axis=1)
    return encode_image(image, "png")
