"""Image quality against a reference: PSNR and SSIM.

The recipes' reports and the model cards quote these for reconstructions,
rollouts and two-stage decodes. PSNR is taken of a mean squared error that
the caller accumulates (over a batch, a horizon or a whole test split, in
float64), so it is the PSNR of the mean error, not a mean of per-image PSNRs;
for one image pair it equals `tf.image.psnr`. SSIM is `tf.image.ssim`
(Wang et al. 2004).
"""

import math

import numpy as np


def psnr(mse, peak=1.0):
    """Peak signal-to-noise ratio in dB of a mean squared error (inf at 0)."""
    mse = float(mse)
    if mse < 0:
        raise ValueError(f"`mse` must be >= 0, got {mse!r}")
    return 10 * math.log10(peak ** 2 / mse) if mse > 0 else float("inf")


def ssim(a, b, max_val=1.0):
    """SSIM of each pair of images `(..., H, W, C)` in `[0, max_val]`
    (`tf.image.ssim`: 11x11 Gaussian windows, sigma 1.5; images smaller
    than 11 pixels use a window of their size). Floats `(...)`."""
    import tensorflow as tf

    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.shape != b.shape or a.ndim < 3:
        raise ValueError(
            f"`a` and `b` must be images (..., H, W, C) of one shape, got {a.shape} "
            f"and {b.shape}")
    size = min(11, a.shape[-3], a.shape[-2])
    return np.asarray(tf.image.ssim(tf.constant(a), tf.constant(b), max_val,
                                    filter_size=size), np.float64)


__all__ = ["psnr", "ssim"]
