"""Merging a trained VQ-VAE's codebook into fewer codes (weighted k-means)."""

import numpy as np


def weighted_kmeans(points, weights, num_clusters, seed=0, iterations=100):
    """`(centroids, labels)` of weighted k-means on `points` `(N, D)`:
    k-means++ seeding (each next seed drawn with probability proportional to
    weight x squared distance to the nearest seed), then Lloyd iterations
    with weighted means until the labels stop changing. An empty cluster
    keeps its centroid."""
    points = np.asarray(points, np.float64)
    weights = np.asarray(weights, np.float64)
    if points.ndim != 2 or weights.shape != (len(points),):
        raise ValueError(
            f"Expected points (N, D) and weights (N,), got {points.shape} and "
            f"{weights.shape}")
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or not (
            1 <= num_clusters <= int((weights > 0).sum())):
        raise ValueError(
            f"`num_clusters` must be an integer in [1, {int((weights > 0).sum())}] "
            f"(the points of positive weight), got {num_clusters!r}")
    rng = np.random.default_rng(seed)
    centroids = [points[rng.choice(len(points), p=weights / weights.sum())]]
    nearest = ((points - centroids[0]) ** 2).sum(-1)
    for _ in range(1, num_clusters):
        p = weights * nearest
        centroids.append(points[rng.choice(len(points), p=p / p.sum())])
        nearest = np.minimum(nearest, ((points - centroids[-1]) ** 2).sum(-1))
    centroids = np.stack(centroids)
    labels = None
    for _ in range(iterations):
        d = ((points[:, None] - centroids[None]) ** 2).sum(-1)
        new = d.argmin(-1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for j in range(num_clusters):
            w = weights * (labels == j)
            if w.sum() > 0:
                centroids[j] = (w[:, None] * points).sum(0) / w.sum()
    return centroids, labels


def merge_codebook(vqvae, codes, num_embeddings, input_shape, seed=0):
    """A copy of `vqvae` (a `VQVAE` with a `VectorQuantizer` /
    `VectorQuantizerEMA` codebook) whose codebook holds `num_embeddings`
    codes: the weighted k-means of its codebook vectors, each weighted by
    how often it occurs in `codes` (int code maps of training data; unused
    codes weigh nothing and join their nearest centroid). Encoder and
    decoder weights are copied unchanged; the EMA statistics of merged
    codes are summed, so training can go on. `input_shape`: one example's
    shape, e.g. `(84, 84, 3)`.

    A stage-1 codebook often holds many codes that its decoder renders
    almost alike (the memory-maze VQ-VAE: 360 used codes, the same test
    PSNR from 32 merged ones); a model that must predict the code map (the
    second stage of the DeepMind Lab model) then scores on distinctions the
    frames do not show.

    Returns `(model, labels)`: the new model (built) and, for each old
    code, its new code.
    """
    import keras

    old = vqvae.quantizer
    book = np.asarray(old.codebook, np.float64)
    counts = np.bincount(np.asarray(codes).ravel(), minlength=len(book)).astype(np.float64)
    centroids, _ = weighted_kmeans(book, counts, num_embeddings, seed=seed)
    labels = ((book[:, None] - centroids[None]) ** 2).sum(-1).argmin(-1)

    config = vqvae.get_config()
    config["quantizer"] = keras.saving.serialize_keras_object(old)
    config["quantizer"]["config"] = dict(config["quantizer"]["config"],
                                         num_embeddings=num_embeddings)
    model = type(vqvae).from_config(config)
    x = np.zeros((1,) + tuple(input_shape), np.float32)
    model(x)
    vqvae(x)
    for mine, theirs in [(model.encoder, vqvae.encoder), (model.decoder, vqvae.decoder)]:
        mine.set_weights(theirs.get_weights())
    new = model.quantizer
    members = np.eye(num_embeddings)[labels]  # (old K, new K)
    for variable in new.weights:
        name = variable.path.split("/")[-1]
        source = next(v for v in old.weights if v.path.split("/")[-1] == name)
        value = np.asarray(source)
        if name == "codebook":
            variable.assign(centroids.astype(np.float32))
        elif value.shape == (len(book),):
            variable.assign((value @ members).astype(np.float32))
        elif name == "ema_dw_hidden":
            size = np.asarray(old.ema_cluster_size_hidden) @ members
            variable.assign((centroids * size[:, None]).astype(np.float32))
        elif value.shape == ():
            variable.assign(value)
        else:
            raise ValueError(f"merge_codebook does not know how to merge {variable.path}")
    return model, labels.astype(np.int32)


__all__ = ["merge_codebook", "weighted_kmeans"]
