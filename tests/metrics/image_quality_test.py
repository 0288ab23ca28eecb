import math

import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio
from skimage.metrics import structural_similarity

from vq_zoo.metrics import image_quality


def _pairs(seed, shape=(3, 24, 20, 3), scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.random(shape) * scale
    b = np.clip(a + rng.normal(scale=0.08 * scale, size=a.shape), 0, scale)
    return a, b


@pytest.mark.parametrize("peak", [1.0, 255.0])
def test_psnr_of_one_pair_matches_skimage_and_tf_image_psnr(peak):
    a, b = _pairs(0, scale=peak)
    for x, y in zip(a, b):
        got = image_quality.psnr(np.mean((x - y) ** 2), peak=peak)
        # skimage: the same definition in float64, another code.
        assert got == pytest.approx(peak_signal_noise_ratio(x, y, data_range=peak), abs=1e-9)
        # tf.image.psnr works in float32: equal to about 1e-5 dB.
        expected = float(tf.image.psnr(tf.constant(x, tf.float32), tf.constant(y, tf.float32),
                                       max_val=peak))
        assert got == pytest.approx(expected, abs=1e-3)


def test_psnr_of_a_batch_is_that_of_its_mean_error_not_the_mean_psnr():
    # What the reports quote: one PSNR of the MSE over every frame. Frames
    # of very different error show the difference from averaging PSNRs.
    a, b = _pairs(1)
    b[0] = a[0] + 0.001
    batch = image_quality.psnr(np.mean((a - b) ** 2))
    as_one_image = float(tf.image.psnr(tf.constant(a.reshape(1, -1, 20, 3), tf.float32),
                                       tf.constant(b.reshape(1, -1, 20, 3), tf.float32),
                                       max_val=1.0)[0])
    assert batch == pytest.approx(as_one_image, abs=1e-3)
    per_image = tf.image.psnr(tf.constant(a, tf.float32), tf.constant(b, tf.float32), 1.0)
    assert float(tf.reduce_mean(per_image)) > batch + 5


def test_psnr_known_values_and_bad_input():
    assert image_quality.psnr(0.01) == pytest.approx(20.0)
    assert image_quality.psnr(0.01 * 255 ** 2, peak=255) == pytest.approx(20.0)
    assert image_quality.psnr(0.0) == math.inf
    with pytest.raises(ValueError, match="`mse` must be >= 0"):
        image_quality.psnr(-0.5)


def test_ssim_matches_skimage_gaussian_window():
    a, b = _pairs(2, shape=(2, 40, 36, 1))
    got = image_quality.ssim(a, b)
    assert got.shape == (2,)
    for i in range(2):
        expected = structural_similarity(a[i, ..., 0], b[i, ..., 0], data_range=1.0,
                                         gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
        assert got[i] == pytest.approx(expected, abs=0.02)
    np.testing.assert_allclose(image_quality.ssim(a, a), 1.0, atol=1e-5)
    # A noisier copy scores lower.
    worse = np.clip(a + 3 * (b - a), 0, 1)
    assert np.all(image_quality.ssim(a, worse) < got)


def test_ssim_refuses_mismatched_shapes():
    a, b = _pairs(3)
    with pytest.raises(ValueError, match="one shape"):
        image_quality.ssim(a, b[:, :10])
