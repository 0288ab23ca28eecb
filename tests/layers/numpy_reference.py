"""Independent NumPy implementations of the VQ-VAE quantisers (float64)."""

import numpy as np


def nearest(flat, codebook):
    d = ((flat[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    return d.argmin(1)


def quantize_reference(x, codebook, commitment_cost):
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    idx = nearest(flat, codebook.astype(np.float64))
    q = codebook[idx]
    mse = ((flat - q) ** 2).mean()
    counts = np.bincount(idx, minlength=codebook.shape[0])
    p = counts / counts.sum()
    perplexity = np.exp(-(p * np.log(p + 1e-10)).sum())
    return {
        "encoding_indices": idx.reshape(x.shape[:-1]),
        "quantized": q.reshape(x.shape),
        "codebook_loss": mse,
        "commitment_loss": commitment_cost * mse,
        "perplexity": perplexity,
        "counts": counts,
    }


class EMAReference:
    """Appendix A.1, eqs. 6-8, with Sonnet's bias correction and Laplace
    smoothing, written from the paper."""

    def __init__(self, codebook, decay, epsilon):
        self.codebook = codebook.astype(np.float64)
        self.decay, self.epsilon = decay, epsilon
        k, d = codebook.shape
        self.hidden_n = np.zeros(k)
        self.hidden_m = np.zeros((k, d))
        self.t = 0

    def step(self, x):
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        k = self.codebook.shape[0]
        idx = nearest(flat, self.codebook)
        out = self.codebook[idx].reshape(x.shape)
        n_i = np.bincount(idx, minlength=k).astype(np.float64)
        sums = np.zeros_like(self.hidden_m)
        np.add.at(sums, idx, flat)
        self.t += 1
        g = self.decay
        self.hidden_n = g * self.hidden_n + (1 - g) * n_i  # eq. 6
        self.hidden_m = g * self.hidden_m + (1 - g) * sums  # eq. 7
        big_n = self.hidden_n / (1 - g**self.t)
        m = self.hidden_m / (1 - g**self.t)
        total = big_n.sum()
        big_n = (big_n + self.epsilon) / (total + k * self.epsilon) * total
        self.codebook = m / big_n[:, None]  # eq. 8
        return idx.reshape(x.shape[:-1]), out
