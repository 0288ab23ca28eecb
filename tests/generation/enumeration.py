"""Exact marginals of a tiny autoregressive code model, for the consensus
tests: every map enumerated, each map's probability from the model's own
teacher-forced logits (a full forward pass, not its sampler)."""

import itertools

import numpy as np


def every_map(num_embeddings, positions):
    """int32 `(K ** positions, positions)`: every map of `positions` codes."""
    return np.array(list(itertools.product(range(num_embeddings), repeat=positions)),
                    np.int32)


def position_marginals(every, logits):
    """`(positions, K)`: each position's marginal under the distribution
    whose teacher-forced `logits` `(maps, positions, K)` of the maps
    `every` `(maps, positions)` (all of them) give each map its
    probability, the product of its codes' conditionals."""
    logits = np.asarray(logits, np.float64)
    logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    joint = np.exp(np.take_along_axis(logp, every[..., None], -1)[..., 0].sum(-1))
    assert abs(joint.sum() - 1) < 1e-6, joint.sum()  # every map, once
    k = logits.shape[-1]
    return np.stack([np.bincount(every[:, p], weights=joint, minlength=k)
                     for p in range(every.shape[1])])
