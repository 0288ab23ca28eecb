"""A first-order Markov chain over codes: data with a known entropy."""

import numpy as np

K = 4
# From code a the chain moves to a + 1 (mod K) with probability 0.85.
TRANSITIONS = np.full((K, K), 0.05)
TRANSITIONS[np.arange(K), (np.arange(K) + 1) % K] = 0.85


def chains(num, length, rng):
    """`(num, length)` chains started from the (uniform) stationary law."""
    z = np.zeros((num, length), "int32")
    z[:, 0] = rng.integers(0, K, num)
    cum = TRANSITIONS.cumsum(axis=1)
    u = rng.random((num, length))
    for t in range(1, length):
        z[:, t] = (u[:, t, None] > cum[z[:, t - 1]]).sum(axis=1)
    return z


def entropy_per_code(length):
    """The true `-E log p(z) / length` in nats of one chain of `length`."""
    row = -(TRANSITIONS[0] * np.log(TRANSITIONS[0])).sum()
    return (np.log(K) + (length - 1) * row) / length


def empirical_transitions(z):
    """Transition frequencies along the last axis."""
    a, b = z[..., :-1].ravel(), z[..., 1:].ravel()
    counts = np.zeros((K, K))
    np.add.at(counts, (a, b), 1)
    return counts / counts.sum(axis=1, keepdims=True)
