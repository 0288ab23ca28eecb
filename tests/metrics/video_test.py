import math

import numpy as np
import pytest

from tests.models.video.synthetic import episode
from vq_zoo.metrics import video


def test_psnr_known_values():
    assert video.psnr(0.01) == pytest.approx(20.0)
    assert video.psnr(1e-4) == pytest.approx(40.0)
    assert video.psnr(0.0) == math.inf
    with pytest.raises(ValueError, match="`mse` must be >= 0"):
        video.psnr(-1.0)


def test_ssim_against_skimage_gaussian():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((2, 32, 32, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1).astype(np.float32)
    got = video.ssim(a, b)
    # skimage with Wang et al.'s Gaussian window (sigma 1.5, truncated to
    # 11x11) and population covariances: the same definition, another code.
    for i in range(2):
        expected = structural_similarity(a[i], b[i], channel_axis=-1, data_range=1.0,
                                         gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
        assert got[i] == pytest.approx(expected, abs=0.02)
    np.testing.assert_allclose(video.ssim(a, a), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="one shape"):
        video.ssim(a, b[:1])


def test_per_horizon_errors():
    rng = np.random.default_rng(1)
    true = rng.random((3, 4, 16, 16, 3))
    # A constant error of 0.1 * h at horizon h: MSE (0.1 h)^2.
    predicted = true + 0.1 * np.arange(1, 5)[None, :, None, None, None]
    out = video.per_horizon_errors(predicted, true)
    np.testing.assert_allclose(out["mse"], (0.1 * np.arange(1, 5)) ** 2, rtol=1e-9)
    np.testing.assert_allclose(out["psnr_db"], -20 * np.log10(0.1 * np.arange(1, 5)))
    same = video.per_horizon_errors(true, true)
    assert same["psnr_db"] == [math.inf] * 4
    np.testing.assert_allclose(same["ssim"], 1.0, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(batch, n, H, W, C\)"):
        video.per_horizon_errors(true[0], true[0])


def test_inverse_dynamics_names_pans_on_held_out_pairs():
    # The synthetic world: noop keeps the view, left / right pan it by 2
    # pixels (actions 0, 2, 3; tests/models/video/synthetic.py).
    def clips(seed):
        frames, actions = episode(200, size=32, seed=seed)
        keep = np.isin(actions[:-1], (0, 2, 3))
        before, after = frames[:-1][keep], frames[1:][keep]
        return (np.stack([before, after], 1).astype(np.float32) / 255.0,
                np.stack([actions[:-1][keep], actions[:-1][keep]], 1))

    train_x, train_y = clips(0)
    test_x, test_y = clips(1)
    model = video.fit_inverse_dynamics(train_x, train_y)
    accuracy = video.action_accuracy(model, test_x[:, 0], test_x[:, 1], test_y[:, 0])
    assert accuracy > 0.9   # chance: about 1/3
    # Pairs with before and after swapped pan the other way: left and right
    # trade places, so the classifier must not name the commanded action.
    panned = test_y[:, 0] != 0
    swapped = video.action_accuracy(model, test_x[panned, 1], test_x[panned, 0],
                                    test_y[panned, 0])
    assert swapped < 0.2
