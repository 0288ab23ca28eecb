"""Natural-image patches cut from photos that ship inside pip packages.

No download: the photos come with scikit-learn (`china`, `flower`) and
scikit-image (`astronaut`, `chelsea`, `coffee`, ...), mostly public domain or
CC0. Train, validation and test sets are split by source photo (three
disjoint sets of photos), so no validation or test patch overlaps a
training photo, and no test patch is seen while training is monitored:

- test: `flower`, `coffee` (`TEST_IMAGES`);
- validation: `chelsea`, `rocket` (`VALIDATION_IMAGES`);
- train: every other photo (`astronaut`, `china`, `hubble_deep_field`,
  `immunohistochemistry`, `motorcycle_left`, `motorcycle_right`, `retina`;
  the two motorcycle photos are a stereo pair of one scene and stay in one
  split).
"""

import numpy as np

SPLITS = ("train", "validation", "test")
# Held-out photos: patches from these never appear in training; the test
# photos are never used for validation either.
TEST_IMAGES = ("flower", "coffee")
VALIDATION_IMAGES = ("chelsea", "rocket")


def source_images():
    """Returns {name: uint8 (H, W, 3) RGB array} of the bundled photos."""
    images = {}
    try:
        from sklearn.datasets import load_sample_images

        bunch = load_sample_images()
        for path, image in zip(bunch.filenames, bunch.images):
            name = path.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0]
            images[name] = np.asarray(image, np.uint8)
    except ImportError:
        pass
    try:
        import skimage.data

        for name in ("astronaut", "chelsea", "coffee", "rocket",
                     "hubble_deep_field", "retina", "immunohistochemistry"):
            images[name] = np.asarray(getattr(skimage.data, name)(), np.uint8)
        left, right, _ = skimage.data.stereo_motorcycle()
        images["motorcycle_left"] = np.asarray(left, np.uint8)
        images["motorcycle_right"] = np.asarray(right, np.uint8)
    except ImportError:
        pass
    if not images:
        raise ImportError(
            "No bundled photos found: install scikit-learn and scikit-image "
            "(`pip install scikit-learn scikit-image`)."
        )
    return images


def split_names(split, images):
    """The names of the photos of `split` among `images`."""
    if split not in SPLITS:
        raise ValueError(
            f"`split` must be 'train', 'validation' or 'test', got {split!r}")
    if split == "test":
        return [n for n in TEST_IMAGES if n in images]
    if split == "validation":
        return [n for n in VALIDATION_IMAGES if n in images]
    held_out = set(TEST_IMAGES) | set(VALIDATION_IMAGES)
    return [n for n in sorted(images) if n not in held_out]


def _downscale(image, factor):
    if factor == 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:h, :w].astype(np.float32).reshape(
        h // factor, factor, w // factor, factor, 3)
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8)


def natural_patches(split="train", num=4096, size=32, scales=(1, 2), seed=0):
    """Random `size` x `size` RGB crops, float32 in [0, 1].

    Crops are drawn uniformly over the photos of `split` at each of `scales`
    (1 = full resolution, 2 = downscaled by 2), with random horizontal flips.

    Args:
        split: "train", "validation" (photos `VALIDATION_IMAGES`) or "test"
            (photos `TEST_IMAGES`).
        num: number of patches.
        size: patch side in pixels.
        scales: downscaling factors to draw from.
        seed: random seed.

    Returns:
        float32 array `(num, size, size, 3)`.
    """
    if num < 1 or size < 1:
        raise ValueError(f"`num` and `size` must be >= 1, got {num}, {size}")
    images = source_images()
    rng = np.random.default_rng(seed)
    pyramid = [
        _downscale(images[name], f)
        for name in split_names(split, images)
        for f in scales
    ]
    pyramid = [im for im in pyramid if min(im.shape[:2]) >= size]
    out = np.empty((num, size, size, 3), np.uint8)
    which = rng.integers(0, len(pyramid), size=num)
    for i, k in enumerate(which):
        im = pyramid[k]
        y = rng.integers(0, im.shape[0] - size + 1)
        x = rng.integers(0, im.shape[1] - size + 1)
        crop = im[y:y + size, x:x + size]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out.astype(np.float32) / 255.0


def rotate_hues(images, seed=0):
    """Each RGB image in [0, 1] with its colours rotated about the grey axis
    by its own random angle (uniform over the full circle), then clipped to
    [0, 1]: greys and each pixel's mean brightness stay as they were, hues
    move by the angle.

    The bundled training photos are mostly red, orange and dark (about two
    thirds of their saturated pixels are within 15 degrees of red, almost
    none green, teal or magenta), so a model trained on them alone returns
    those rare hues as the common ones; rotated copies give every hue the
    same share. Deterministic for a seed.

    Args:
        images: float array `(n, height, width, 3)` in [0, 1].
        seed: random seed of the angles.

    Returns:
        float32 array of the same shape.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"`images` must be RGB images (n, height, width, 3), "
                         f"got shape {images.shape}")
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(images))
    axis = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]],
                      [-axis[1], axis[0], 0]])
    out = np.empty_like(images)
    for i, angle in enumerate(angles):
        # Rodrigues: a rotation by `angle` about the unit grey axis.
        rotation = (np.cos(angle) * np.eye(3) + np.sin(angle) * cross
                    + (1 - np.cos(angle)) * np.outer(axis, axis))
        out[i] = images[i] @ rotation.T.astype(np.float32)
    return np.clip(out, 0.0, 1.0)
