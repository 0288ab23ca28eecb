"""Classifier-based rejection sampling (VQ-VAE-2, section 3.3).

Razavi et al. trade diversity for quality by drawing more samples than
needed from the priors, scoring each decoded sample with a pretrained
classifier's probability of the wanted class, and keeping only the
best-scoring fraction.
"""

import math
import numbers

import numpy as np


def _take(codes, index):
    if isinstance(codes, dict):
        return {k: np.asarray(v)[index] for k, v in codes.items()}
    return np.asarray(codes)[index]


def _concat(parts):
    if isinstance(parts[0], dict):
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    return np.concatenate([np.asarray(p) for p in parts])


def _length(codes):
    if isinstance(codes, dict):
        return len(next(iter(codes.values())))
    return len(codes)


def classifier_rejection_sample(sample_fn, decode_fn, classifier, label, num,
                                keep_fraction, seed=0, batch_size=None):
    """Draws `ceil(num / keep_fraction)` candidates, keeps the `num` the
    classifier scores highest for class `label`.

    Args:
        sample_fn: callable `(n, seed) -> codes`: `n` code maps (an int
            array, or a dict of them per level as VQ-VAE-2 draws: top from
            the top prior, then bottom given top).
        decode_fn: callable `codes -> images` (e.g. `vqvae.decode`).
        classifier: callable `images -> scores`: `(n, num_classes)` class
            probabilities (or any score per class, higher is better), or
            `(n,)` scores with `label=None`.
        label: int, the wanted class (a column of the classifier's output),
            or None for a classifier that returns one score per image.
        num: int >= 1, samples to keep.
        keep_fraction: float in (0, 1], the fraction of candidates kept
            (1 keeps every candidate: plain sampling, sorted by score).
        seed: int, seed of the first draw (batch `i` uses `seed + i`).
        batch_size: int or None, candidates drawn and scored at a time
            (None: all at once).

    Returns:
        A dict: `images` and `codes` of the kept samples, best first;
        `scores` (their scores, descending); `indices` (their positions
        among the candidates); `num_candidates`.

    Example:
    >>> brightness = lambda images: images.mean(axis=(1, 2, 3))
    >>> kept = classifier_rejection_sample(
    ...     lambda n, seed: np.random.default_rng(seed).integers(0, 8, (n, 2, 2)),
    ...     lambda codes: codes[..., None] / 7.0, brightness, None, num=4,
    ...     keep_fraction=0.25)
    >>> kept["num_candidates"], kept["images"].shape
    (16, (4, 2, 2, 1))

    References:
        Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity
        Images with VQ-VAE-2. arXiv:1906.00446, section 3.3.
    """
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num < 1:
        raise ValueError(f"`num` must be an integer >= 1. Received: num={num!r}")
    if (isinstance(keep_fraction, bool) or not isinstance(keep_fraction, numbers.Real)
            or not 0.0 < float(keep_fraction) <= 1.0):
        raise ValueError(
            "`keep_fraction` must be a number in (0, 1] (the fraction of candidates "
            f"kept). Received: keep_fraction={keep_fraction!r}")
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ValueError(
            f"`batch_size` must be None or an integer >= 1. Received: {batch_size!r}")
    if label is not None and (isinstance(label, bool)
                              or not isinstance(label, numbers.Integral) or label < 0):
        raise ValueError(f"`label` must be None or an integer >= 0. Received: {label!r}")
    for name, fn in (("sample_fn", sample_fn), ("decode_fn", decode_fn),
                     ("classifier", classifier)):
        if not callable(fn):
            raise ValueError(f"`{name}` must be callable. Received: {fn!r}")
    # A small tolerance so that e.g. num=3, keep_fraction=0.3 asks 10, not 11.
    total = max(num, math.ceil(num / float(keep_fraction) - 1e-9))
    batch_size = batch_size or total
    codes_parts, image_parts, score_parts = [], [], []
    drawn = 0
    for i in range(math.ceil(total / batch_size)):
        n = min(batch_size, total - drawn)
        codes = sample_fn(n, int(seed) + i)
        if _length(codes) != n:
            raise ValueError(f"`sample_fn` returned {_length(codes)} samples, asked {n}")
        images = np.asarray(decode_fn(codes))
        scores = np.asarray(classifier(images), np.float64)
        if label is None:
            if scores.shape != (n,):
                raise ValueError(
                    "With `label=None` the classifier must return one score per "
                    f"image, shape ({n},); got {scores.shape}. Pass the wanted class "
                    "as `label`.")
        else:
            if scores.ndim != 2 or scores.shape[0] != n:
                raise ValueError(
                    f"The classifier must return (n, num_classes) scores; got shape "
                    f"{scores.shape} (use label=None for one score per image)")
            if label >= scores.shape[1]:
                raise ValueError(
                    f"`label`={label} is not a class of the classifier's "
                    f"{scores.shape[1]} outputs")
            scores = scores[:, label]
        codes_parts.append(codes)
        image_parts.append(images)
        score_parts.append(scores)
        drawn += n
    codes = _concat(codes_parts)
    images = np.concatenate(image_parts)
    scores = np.concatenate(score_parts)
    if not np.all(np.isfinite(scores)):
        raise ValueError("The classifier returned non-finite scores")
    # Highest first; among equal scores the earlier candidate wins.
    order = np.argsort(-scores, kind="stable")[:num]
    return {"images": images[order], "codes": _take(codes, order),
            "scores": scores[order], "indices": order, "num_candidates": total}


__all__ = ["classifier_rejection_sample"]
