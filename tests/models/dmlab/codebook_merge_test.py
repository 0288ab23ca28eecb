"""Merging a VQ-VAE's codebook into fewer codes: weighted k-means against
known clusters, and a merged model that decodes as the old one does on
the centroids."""

import numpy as np
import pytest

from vq_zoo.models.dmlab.codebook_merge import merge_codebook
from vq_zoo.models.dmlab.codebook_merge import weighted_kmeans
from vq_zoo.models.vqvae.vqvae import VQVAE


def test_weighted_kmeans_finds_separated_clusters_and_weighted_means():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat(np.arange(3), 20)
    points = centres[truth] + rng.normal(scale=0.3, size=(60, 2))
    weights = rng.uniform(0.5, 2.0, 60)
    weights[5] = 0.0  # weighs nothing: does not pull its centroid
    centroids, labels = weighted_kmeans(points, weights, 3, seed=1)
    # The same partition as the truth, up to the order of the clusters.
    for j in range(3):
        members = labels == labels[truth == j][0]
        np.testing.assert_array_equal(members, truth == j)
        w = weights * members
        np.testing.assert_allclose(centroids[labels[truth == j][0]],
                                   (w[:, None] * points).sum(0) / w.sum(), rtol=1e-10)
    with pytest.raises(ValueError, match=r"`num_clusters` must be an integer in \[1, 59\]"):
        weighted_kmeans(points, weights, 60)


def small_vqvae(k=8):
    model = VQVAE.image_model(num_hiddens=8, num_residual_layers=1, num_residual_hiddens=4,
                              embedding_dim=4, num_embeddings=k,
                              quantizer_kwargs=dict(seed=0))
    model.build((None, 8, 8, 3))
    return model


def test_merged_model_decodes_the_centroids_and_encodes_to_the_nearest():
    model = small_vqvae()
    x = np.random.default_rng(0).uniform(size=(6, 8, 8, 3)).astype("float32")
    codes = np.asarray(model.encode(x))
    used = np.unique(codes)
    merged, labels = merge_codebook(model, codes, 2, (8, 8, 3), seed=0)
    assert merged.quantizer.num_embeddings == 2 and labels.shape == (8,)
    book = np.asarray(model.quantizer.codebook, np.float64)
    centroids = np.asarray(merged.quantizer.codebook, np.float64)
    # Each centroid is the usage-weighted mean of the old codes merged into it.
    counts = np.bincount(codes.ravel(), minlength=8)
    for j in range(2):
        w = counts * (labels == j)
        if w.sum():
            np.testing.assert_allclose(centroids[j], (w[:, None] * book).sum(0) / w.sum(),
                                       rtol=1e-5, atol=1e-6)
    # Encoder and decoder are the old ones: the merged model's frames are the
    # old decoder's on the centroid vectors, its codes the nearest centroid.
    z = np.asarray(model.encoder(x), np.float64)
    nearest = ((z[..., None, :] - centroids) ** 2).sum(-1).argmin(-1)
    new_codes = np.asarray(merged.encode(x))
    np.testing.assert_array_equal(new_codes, nearest)
    old_decoder = np.asarray(model.likelihood.reconstruct(
        model.decoder(centroids[new_codes].astype("float32"))))
    np.testing.assert_allclose(np.asarray(merged.decode(new_codes)), old_decoder,
                               rtol=1e-5, atol=1e-5)
    # Merging into as many codes as are used changes no reconstruction.
    same, _ = merge_codebook(model, codes, len(used), (8, 8, 3), seed=0)
    np.testing.assert_allclose(np.asarray(same.decode(same.encode(x))),
                               np.asarray(model.decode(codes)), rtol=1e-5, atol=1e-5)
    # The merged EMA statistics give back the centroids (training can go on).
    q = merged.quantizer
    debiased = np.asarray(q.ema_dw_hidden) / np.maximum(
        np.asarray(q.ema_cluster_size_hidden)[:, None], 1e-12)
    hit = np.asarray(q.ema_cluster_size_hidden) > 0
    np.testing.assert_allclose(debiased[hit], centroids[hit], rtol=1e-4, atol=1e-6)
