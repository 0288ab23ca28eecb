import numpy as np
import pytest

from vq_zoo.data import natural_images


def test_patches_shape_range_and_determinism():
    a = natural_images.natural_patches("train", num=64, size=16, seed=3)
    b = natural_images.natural_patches("train", num=64, size=16, seed=3)
    assert a.shape == (64, 16, 16, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.05
    np.testing.assert_array_equal(a, b)


def test_split_by_source_photo():
    images = natural_images.source_images()
    train = set(natural_images.split_names("train", images))
    test = set(natural_images.split_names("test", images))
    assert test and train and not (train & test)
    # Every test patch is a crop of a test photo (at scale 1, unflipped or
    # flipped), found by exact search in that photo.
    patches = natural_images.natural_patches("test", num=4, size=8, scales=(1,), seed=0)
    photos = [images[n] for n in test]
    for p in (patches * 255).round().astype(np.uint8):
        assert any(_contains(photo, p) or _contains(photo, p[:, ::-1]) for photo in photos)


def _contains(photo, patch):
    h, w = patch.shape[:2]
    ys, xs = np.nonzero(np.all(photo[: -h + 1, : -w + 1] == patch[0, 0], axis=-1))
    return any(np.array_equal(photo[y:y + h, x:x + w], patch) for y, x in zip(ys, xs))


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        natural_images.natural_patches("valid", num=4)
