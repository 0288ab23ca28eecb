import math

import numpy as np
import pytest

from vq_zoo.models.vqvae2.rejection_sampling import classifier_rejection_sample

K = 16


def sample_fn(n, seed):
    """VQ-VAE-2-like draws: a dict of top and bottom code maps."""
    rng = np.random.default_rng(seed)
    return {"top": rng.integers(0, K, (n, 2, 2)), "bottom": rng.integers(0, K, (n, 4, 4))}


def decode_fn(codes):
    # Brightness follows the codes: each image is its bottom map scaled to [0, 1].
    return codes["bottom"][..., None].astype(np.float32) / (K - 1)


def brightness_classifier(images):
    """Two classes, 'dark' and 'bright': p(bright) = mean brightness."""
    b = images.mean(axis=(1, 2, 3))
    return np.stack([1.0 - b, b], axis=1)


def all_candidates(total, batch_size, seed=0):
    """The candidates the sampler must have drawn, made independently."""
    parts = [sample_fn(min(batch_size, total - s), seed + i)
             for i, s in enumerate(range(0, total, batch_size))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.mark.parametrize("batch_size", [None, 7])
def test_keeps_exactly_the_top_scoring_candidates(batch_size):
    num, keep = 5, 0.2
    kept = classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                       label=1, num=num, keep_fraction=keep,
                                       seed=3, batch_size=batch_size)
    total = math.ceil(num / keep)
    assert kept["num_candidates"] == total == 25
    candidates = all_candidates(total, batch_size or total, seed=3)
    brightness = candidates["bottom"].mean(axis=(1, 2)) / (K - 1)
    best = np.sort(brightness)[::-1][:num]
    np.testing.assert_allclose(kept["scores"], best, rtol=1e-6)
    # The kept samples are those candidates, their codes and images together.
    np.testing.assert_array_equal(kept["codes"]["bottom"], candidates["bottom"][kept["indices"]])
    np.testing.assert_array_equal(kept["codes"]["top"], candidates["top"][kept["indices"]])
    np.testing.assert_allclose(kept["images"].mean(axis=(1, 2, 3)), best, rtol=1e-6)
    # Every rejected candidate scores no higher than the worst kept one.
    rejected = np.setdiff1d(np.arange(total), kept["indices"])
    assert brightness[rejected].max() <= kept["scores"].min()


def test_other_label_keeps_the_darkest():
    kept = classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                       label=0, num=3, keep_fraction=0.1, seed=0)
    candidates = all_candidates(30, 30)
    brightness = candidates["bottom"].mean(axis=(1, 2)) / (K - 1)
    np.testing.assert_array_equal(np.sort(kept["indices"]),
                                  np.sort(np.argsort(brightness, kind="stable")[:3]))


def test_keep_fraction_one_keeps_every_candidate():
    kept = classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                       label=1, num=8, keep_fraction=1.0, seed=1)
    assert kept["num_candidates"] == 8
    assert sorted(kept["indices"].tolist()) == list(range(8))
    candidates = all_candidates(8, 8, seed=1)
    # All of them, best first.
    np.testing.assert_array_equal(
        np.sort(kept["codes"]["bottom"].reshape(8, -1), axis=0),
        np.sort(candidates["bottom"].reshape(8, -1), axis=0))
    assert np.all(np.diff(kept["scores"]) <= 0)


def test_one_score_per_image_with_label_none():
    kept = classifier_rejection_sample(
        sample_fn, decode_fn, lambda x: x.mean(axis=(1, 2, 3)), label=None,
        num=2, keep_fraction=0.5, seed=0)
    candidates = all_candidates(4, 4)
    brightness = candidates["bottom"].mean(axis=(1, 2)) / (K - 1)
    np.testing.assert_allclose(kept["scores"], np.sort(brightness)[::-1][:2], rtol=1e-6)


@pytest.mark.parametrize("keep_fraction", [0, 0.0, -0.5, 1.5, True, "0.5", float("nan")])
def test_keep_fraction_outside_zero_one_refused(keep_fraction):
    with pytest.raises(ValueError, match="keep_fraction"):
        classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                    label=1, num=2, keep_fraction=keep_fraction)


def test_bad_num_label_and_classifier_output_refused():
    with pytest.raises(ValueError, match="num"):
        classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                    label=1, num=0, keep_fraction=0.5)
    with pytest.raises(ValueError, match="label"):
        classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                    label=2, num=2, keep_fraction=0.5)
    with pytest.raises(ValueError, match="one score per image"):
        classifier_rejection_sample(sample_fn, decode_fn, brightness_classifier,
                                    label=None, num=2, keep_fraction=0.5)
