"""Instruments for generated video: PSNR and SSIM at each horizon, and an
inverse-dynamics classifier that says which action moved a frame.

The video recipe's report and its model cards quote these: PSNR (of the
mean squared error over a batch) and SSIM (`tf.image.ssim`, Wang et al.
2004: 11x11 Gaussian windows, sigma 1.5) at each horizon, for rollouts,
for copying the last context frame and for the VQ-VAE's reconstruction of
the true frames; and the accuracy of a logistic regression on global-motion
features of frame pairs (`dynamics_features`), trained on true pairs.
"""

import numpy as np

from vq_zoo.metrics.image_quality import psnr
from vq_zoo.metrics.image_quality import ssim


def per_horizon_errors(predicted, true):
    """`{"mse", "psnr_db", "ssim"}`, one value per horizon (axis 1) of float
    frames `(batch, n, H, W, C)` in [0, 1]: the mean squared error over the
    batch, its PSNR (the PSNR of the mean error, not the mean of per-clip
    PSNRs) and the mean SSIM over the batch."""
    predicted = np.asarray(predicted)
    true = np.asarray(true)
    if predicted.shape != true.shape or predicted.ndim != 5:
        raise ValueError(
            "`predicted` and `true` must be frames (batch, n, H, W, C) of one shape, got "
            f"{predicted.shape} and {true.shape}")
    out = {"mse": [], "psnr_db": [], "ssim": []}
    for h in range(true.shape[1]):
        mse = float(np.mean((predicted[:, h].astype(np.float64) - true[:, h]) ** 2))
        out["mse"].append(mse)
        out["psnr_db"].append(psnr(mse))
        out["ssim"].append(float(np.mean(ssim(predicted[:, h], true[:, h]))))
    return out


def dynamics_features(before, after, size=32):
    """Global-motion features of frame pairs for the inverse-dynamics
    classifier: the frames in grey, area-downsampled to `size x size`; the
    mean squared difference between `after` and `before` shifted
    horizontally by each of `-size/4 .. size/4` pixels (a turn pans the
    view), and between `after` and `before` magnified about the centre by
    1, 1.05, 1.1 and 1.2 and shifted by -size/16, 0, size/16 (a forward
    step zooms it); each error also as its log and relative to the pair's
    smallest error. Floats `(n, 3 * (size / 2 + 13))`."""
    def grey(x):
        x = np.asarray(x, np.float32)
        x = x.mean(-1) if x.shape[-1] > 1 else x[..., 0]
        n, h, w = x.shape
        s = min(size, h, w)
        f = h // s
        return x[:, :f * s, :f * s].reshape(n, s, f, s, f).mean((2, 4))

    b, a = grey(before), grey(after)
    s = b.shape[1]
    m = max(1, s // 4)
    errors = [((np.roll(b, dx, axis=2) - a)[:, :, m:s - m] ** 2).mean((1, 2))
              for dx in range(-m, m + 1)]
    centre = s / 2
    edge = max(1, s // 5)
    step = max(1, s // 16)
    for scale in (1.0, 1.05, 1.1, 1.2):
        index = np.clip(np.round(centre + (np.arange(s) - centre) / scale).astype(int),
                        0, s - 1)
        zoomed = b[:, index][:, :, index]
        for dx in (-step, 0, step):
            errors.append(((np.roll(zoomed, dx, axis=2) - a)[:, edge:s - edge, edge:s - edge]
                           ** 2).mean((1, 2)))
    e = np.stack(errors, 1)
    return np.concatenate([e, np.log(e + 1e-6), e / (e.min(1, keepdims=True) + 1e-6)], 1)


def fit_inverse_dynamics(frames, actions):
    """A scikit-learn logistic regression from true frame pairs `(frames[t],
    frames[t + 1])` of float clips `(n, T, H, W, C)` to `actions[:, t]`
    (ints `(n, T)`; the last action of each clip is unused)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frames = np.asarray(frames)
    x = dynamics_features(frames[:, :-1].reshape((-1,) + frames.shape[2:]),
                          frames[:, 1:].reshape((-1,) + frames.shape[2:]))
    y = np.asarray(actions)[:, :-1].reshape(-1)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    model.fit(x, y)
    return model


def action_accuracy(model, before, after, actions):
    """The share of frame pairs `(before[i], after[i])` (`(n, H, W, C)`)
    whose action the inverse-dynamics `model` names as `actions[i]`."""
    return float(np.mean(model.predict(dynamics_features(before, after))
                         == np.asarray(actions).reshape(-1)))


__all__ = ["psnr", "ssim", "per_horizon_errors", "dynamics_features",
           "fit_inverse_dynamics", "action_accuracy"]
