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
    splits = {s: set(natural_images.split_names(s, images))
              for s in ("train", "validation", "test")}
    assert all(splits.values())
    # Three disjoint sets of photos that together are all of them.
    assert not (splits["train"] & splits["validation"])
    assert not (splits["train"] & splits["test"])
    assert not (splits["validation"] & splits["test"])
    assert set.union(*splits.values()) == set(images)
    # The stereo pair shows one scene: never on both sides of a split.
    assert sum("motorcycle_left" in s and "motorcycle_right" in s
               for s in splits.values()) == 1
    # Every validation and test patch is a crop of a photo of its split (at
    # scale 1, unflipped or flipped), found by exact search in that photo.
    for split in ("validation", "test"):
        patches = natural_images.natural_patches(split, num=4, size=8, scales=(1,),
                                                 seed=0)
        photos = [images[n] for n in splits[split]]
        for p in (patches * 255).round().astype(np.uint8):
            assert any(_contains(photo, p) or _contains(photo, p[:, ::-1])
                       for photo in photos), split


def _contains(photo, patch):
    h, w = patch.shape[:2]
    ys, xs = np.nonzero(np.all(photo[: -h + 1, : -w + 1] == patch[0, 0], axis=-1))
    return any(np.array_equal(photo[y:y + h, x:x + w], patch) for y, x in zip(ys, xs))


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="'train', 'validation' or 'test'"):
        natural_images.natural_patches("valid", num=4)
