"""Reconstruction error by hue: does a model keep every colour, or only the
common ones?

A VQ-VAE trained on photos where most saturated pixels are red and orange
can return teal as navy and magenta as orange while its overall MSE looks
fine; the error per hue bin shows it. `colour_wheel` gives patches of every
hue for the same check on a synthetic image.
"""

import numpy as np


def rgb_to_hsv(rgb):
    """Hue, saturation and value of RGB values in [0, 1] (the last axis),
    each in [0, 1]: the hexcone model of `colorsys.rgb_to_hsv`, vectorised."""
    rgb = np.asarray(rgb, np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(-1)
    chroma = value - rgb.min(-1)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1), 0.0)
    safe = np.where(chroma > 0, chroma, 1)
    hue = np.select(
        [chroma == 0, value == r, value == g],
        [0.0, ((g - b) / safe) % 6, (b - r) / safe + 2],
        (r - g) / safe + 4) / 6.0
    return np.stack([hue % 1.0, saturation, value], -1)


def hsv_to_rgb(hsv):
    """The inverse of `rgb_to_hsv` (the last axis: hue, saturation, value)."""
    hsv = np.asarray(hsv, np.float64)
    h, s, v = hsv[..., 0] % 1.0, hsv[..., 1], hsv[..., 2]
    k = lambda n: (n + h * 6) % 6  # noqa: E731
    f = lambda n: v - v * s * np.clip(np.minimum(k(n), 4 - k(n)), 0, 1)  # noqa: E731
    return np.stack([f(5), f(3), f(1)], -1)


def error_by_hue(originals, reconstructions, bins=12, min_saturation=0.25):
    """Mean squared error of the pixels of each hue bin of the originals.

    Args:
        originals, reconstructions: RGB images in [0, 1], the same shape
            `(..., 3)`.
        bins: hue bins of equal width, the first centred on red (hue 0).
        min_saturation: pixels of the original less saturated than this
            (greys, whose hue is undefined) are left out.

    Returns:
        A dict: `hue_degrees` (each bin's centre), `mse` (each bin's mean
        squared error over its pixels and channels, None for an empty bin),
        `fraction` (each bin's share of the saturated pixels), and
        `worst_to_median` (the largest bin's MSE over the median one, over
        bins holding at least 1% of the pixels: 1 when every hue is kept
        equally well).
    """
    x = np.asarray(originals, np.float64)
    y = np.asarray(reconstructions, np.float64)
    if x.shape != y.shape or x.shape[-1:] != (3,):
        raise ValueError("`originals` and `reconstructions` must be RGB arrays of one "
                         f"shape (..., 3); got {x.shape} and {y.shape}")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"`bins` must be a positive int, got {bins!r}")
    hsv = rgb_to_hsv(x.reshape(-1, 3))
    error = ((x - y) ** 2).reshape(-1, 3).mean(-1)
    keep = hsv[:, 1] >= min_saturation
    # Bin 0 is centred on hue 0 (red), so it wraps around 360 degrees.
    which = np.floor((hsv[keep, 0] * bins + 0.5)).astype(int) % bins
    counts = np.bincount(which, minlength=bins)
    sums = np.bincount(which, weights=error[keep], minlength=bins)
    mse = [float(s / c) if c else None for s, c in zip(sums, counts)]
    total = max(1, int(counts.sum()))
    fraction = [float(c / total) for c in counts]
    populated = [m for m, f in zip(mse, fraction) if m is not None and f >= 0.01]
    worst = (float(max(populated) / max(np.median(populated), 1e-12))
             if populated else None)
    return {"hue_degrees": [360.0 * i / bins for i in range(bins)], "mse": mse,
            "fraction": fraction, "worst_to_median": worst}


def colour_wheel(size=32, hues=12, saturation=0.8, seed=0):
    """`hues` RGB patches `(hues, size, size, 3)` in [0, 1], patch i of hue
    `i / hues` (red first) at `saturation`, with a random brightness texture
    (value 0.35 to 0.85) so that a patch is not one flat colour."""
    rng = np.random.default_rng(seed)
    value = 0.35 + 0.5 * rng.random((hues, size, size))
    hue = np.broadcast_to((np.arange(hues) / hues)[:, None, None], value.shape)
    hsv = np.stack([hue, np.full_like(value, saturation), value], -1)
    return hsv_to_rgb(hsv).astype(np.float32)
