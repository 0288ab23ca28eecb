"""Sampling every code level of a VQ-VAE-2 from its priors, top first
(Razavi et al. 2019, section 3.2: the top prior unconditionally, each lower
level's prior given the codes of the level above)."""

import numpy as np


def sample_levels(priors, num, seed, temperature=1.0):
    """Codes of every level, top first: the top from `priors[0]`, each
    lower level from its prior given the level above (as its spatial
    condition). `priors`: a dict level name -> prior, top first; level `i`
    is drawn with seed `seed + i`. Returns a dict (level name -> int32
    codes `(num, h, w)`) in the order of `priors`, ready for
    `VQVAE2.decode`.

    Example:
    >>> codes = sample_levels({"top": top_prior, "bottom": bottom_prior}, 8, seed=0)
    >>> images = vqvae2.decode(codes)
    """
    codes, above = {}, None
    for i, (level, prior) in enumerate(priors.items()):
        codes[level] = np.asarray(prior.sample(
            num, condition=None if above is None else above, seed=seed + i,
            temperature=temperature))
        above = codes[level]
    return codes


__all__ = ["sample_levels"]
