"""Image grids (with nearest-neighbour upscaling), PNG/JPEG by extension,
and reading images with errors that name the file."""

import numpy as np
import pytest
import tensorflow as tf

from vq_zoo.utils import images


def test_upscaled_grid_is_the_grid_with_each_pixel_repeated():
    x = np.random.default_rng(0).random((5, 4, 3, 2))
    small = images.image_grid(x, columns=3)
    big = images.image_grid(x, columns=3, upscale=4)
    assert big.shape == (small.shape[0] * 4, small.shape[1] * 4, 2)
    for dy in range(4):
        for dx in range(4):
            np.testing.assert_array_equal(big[dy::4, dx::4], small)
    # The first image sits after one padding pixel, as uint8 of x.
    np.testing.assert_array_equal(small[1:5, 1:4], (x[0] * 255 + 0.5).astype(np.uint8))
    with pytest.raises(ValueError, match="upscale must be an integer >= 1"):
        images.image_grid(x, upscale=0)


def test_write_image_picks_the_format_from_the_extension(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    images.write_image(tmp_path / "a.png", image)
    images.write_image(tmp_path / "b.JPG", image)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "b.JPG").read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG SOI
    np.testing.assert_array_equal(images.read_image(tmp_path / "a.png"), image)
    with pytest.raises(ValueError, match=r"unsupported image extension '\.gif'; "
                                         r"use one of \.png, \.jpg, \.jpeg"):
        images.write_image(tmp_path / "c.gif", image)
    assert not (tmp_path / "c.gif").exists()


@pytest.mark.parametrize("kind", ["png", "jpeg", "text"])
def test_truncated_or_foreign_files_are_named(tmp_path, kind):
    image = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    data = {"png": lambda: tf.io.encode_png(image).numpy(),
            "jpeg": lambda: tf.io.encode_jpeg(image).numpy(),
            "text": lambda: b"not an image at all"}[kind]()
    path = tmp_path / f"bad.{kind}"
    path.write_bytes(data[: len(data) // 2] if kind != "text" else data)
    with pytest.raises(ValueError, match=rf"{path}: not a readable PNG/JPEG/BMP/GIF "
                                         r"image \(truncated or corrupt\?\)") as info:
        images.read_image(path)
    assert "{{" not in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="image not found"):
        images.read_image(tmp_path / "missing.png")


def test_channels_are_converted():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    rgb = images.read_image(_png(grey), channels=3)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[..., 1], grey[..., 0])


def _png(image, _n=[0]):
    import tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "g.png")
    with open(path, "wb") as f:
        f.write(tf.io.encode_png(image).numpy())
    return path
