import numpy as np
import pytest
import keras

from tests.layers.numpy_reference import EMAReference
from vq_zoo.layers.vector_quantizer import VectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

RNG = np.random.default_rng(1)
CENTERS = 10.0 * np.eye(6)[:4]  # four clusters, 10 apart from the origin


def clustered(n=256, noise=0.05):
    labels = RNG.integers(0, 4, size=n)
    return (CENTERS[labels] + noise * RNG.normal(size=(n, 6))).astype("float32")


def make(d=6, k=16, **kwargs):
    layer = VectorQuantizerEMA(embedding_dim=d, num_embeddings=k, **kwargs)
    layer.build((None, d))
    return layer


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 0.99])
def test_matches_numpy_eqs_6_to_8_over_steps(decay):
    vq = make(k=12, decay=decay, epsilon=1e-3)
    ref = EMAReference(vq.codebook.numpy(), decay, 1e-3)
    for step in range(6):
        x = (RNG.normal(size=(4, 8, 6)) + step * 0.1).astype("float32")
        out = vq(x, training=True)
        idx, quantized = ref.step(x)
        np.testing.assert_array_equal(out["encoding_indices"], idx)
        np.testing.assert_allclose(out["quantized"], quantized, atol=1e-5)
        np.testing.assert_allclose(vq.codebook.numpy(), ref.codebook, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
        vq.ema_cluster_size, ref.hidden_n / (1 - decay**6), rtol=1e-4, atol=1e-5)
    assert float(out["codebook_loss"]) == 0.0


def test_frozen_when_not_training_or_not_trainable():
    vq = make()
    before = [v.numpy().copy() for v in vq.weights]
    vq(clustered(), training=False)
    vq(clustered())
    vq.trainable = False
    vq(clustered(), training=True)
    for a, v in zip(before, vq.weights):
        np.testing.assert_array_equal(a, v.numpy())
    vq.trainable = True
    vq(clustered(), training=True)
    assert np.abs(vq.codebook.numpy() - before[0]).max() > 0


def test_unused_codes_stay_finite():
    vq = make(k=64)
    for _ in range(20):
        out = vq(clustered(64), training=True)
    assert int(np.sum(out["code_counts"] > 0)) <= 8  # most codes unused
    assert np.all(np.isfinite(vq.codebook.numpy()))
    assert np.all(np.isfinite(vq.ema_cluster_size))


def test_decay_one_never_moves_the_codebook():
    vq = make(decay=1.0)
    before = vq.codebook.numpy().copy()
    vq(clustered(), training=True)
    np.testing.assert_array_equal(before, vq.codebook.numpy())


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_quantisation_runs_in_float32_under_mixed_precision(policy):
    x = clustered(64) * 0.1
    ref = make(k=16, seed=5)
    keras.config.set_dtype_policy(policy)
    vq = make(k=16, seed=5)
    vq.codebook.assign(ref.codebook.numpy())
    x_low = keras.ops.cast(x, vq.compute_dtype)
    out = vq(x_low, training=True)
    assert vq.codebook.dtype == "float32" and vq.ema_dw_hidden.dtype == "float32"
    assert out["quantized"].dtype == vq.compute_dtype
    ref_out = ref(keras.ops.cast(x_low, "float32"), training=True)
    np.testing.assert_array_equal(out["encoding_indices"], ref_out["encoding_indices"])
    np.testing.assert_allclose(vq.codebook.numpy(), ref.codebook.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- remedies
def nearest_center_distance(codebook):
    return np.min(np.linalg.norm(codebook[:, None] - CENTERS[None], axis=-1), axis=1)


def small_init_layer(cls, **kwargs):
    vq = cls(embedding_dim=6, num_embeddings=16, dead_code_threshold=1.0,
             embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
             seed=3, **kwargs)
    vq.build((None, 6))
    return vq


def test_restarted_ema_codes_survive_the_next_updates():
    vq = small_init_layer(VectorQuantizerEMA)
    initial = vq.codebook.numpy().copy()
    vq(clustered(), training=True)  # codes left unused are restarted
    restarted = np.any(vq.codebook.numpy() != initial, axis=1)
    assert restarted.sum() >= 8
    for _ in range(3):
        out = vq(clustered(), training=True)
        # Without resetting a restarted code's EMA state, its statistics are
        # still those of a dead code and the update pulls it back to ~0,
        # 10 away from every cluster.
        assert np.all(nearest_center_distance(vq.codebook.numpy()) < 0.5)
    assert np.all(out["code_counts"] > 0)  # no dead code is left


def test_restarted_codes_of_the_gradient_layer_are_kept():
    vq = small_init_layer(VectorQuantizer)
    initial = vq.codebook.numpy().copy()
    vq(clustered(), training=True)
    restarted = np.any(vq.codebook.numpy() != initial, axis=1)
    assert restarted.sum() >= 8
    assert np.all(nearest_center_distance(vq.codebook.numpy()[restarted]) < 0.5)
    after_restart = vq.codebook.numpy().copy()
    vq(clustered(), training=True)
    # A restarted code starts with a fair share of usage: not restarted again.
    np.testing.assert_array_equal(
        vq.codebook.numpy()[restarted], after_restart[restarted])


def test_restarts_leave_used_codes_alone():
    vq = make(k=16, dead_code_threshold=1.0, seed=3)
    twin = make(k=16, seed=3)  # the same layer without restarts
    x = clustered()
    vq(x, training=True)
    state = {v.name: v for v in vq.weights}
    for v in twin.weights:
        v.assign(state[v.name])
    used = np.unique(vq.encode(x).numpy())
    vq(x, training=True)
    twin(x, training=True)
    np.testing.assert_allclose(
        vq.codebook.numpy()[used], twin.codebook.numpy()[used], rtol=1e-6)


@pytest.mark.parametrize("cls", [VectorQuantizerEMA, VectorQuantizer])
def test_kmeans_init_finds_the_clusters(cls):
    vq = cls(embedding_dim=6, num_embeddings=8, kmeans_init=True,
             kmeans_iters=10, seed=2)
    x = clustered(512)
    out = vq(x, training=True)
    codebook = vq.codebook.numpy()
    # Every cluster has a code at its centre and every code is used, where
    # the default initialisation leaves all data on a few codes near 0.
    dist = np.linalg.norm(CENTERS[:, None] - codebook[None], axis=-1).min(axis=1)
    assert np.all(dist < 0.1), dist
    assert np.all(out["code_counts"] > 0)
    assert float(out["commitment_loss"]) < 0.25 * 0.05**2 * 1.5
    # Initialisation happens once: a second call does not re-run k-means.
    assert float(vq.initialized.numpy()) == 1.0
    vq(x * 0 + 3.0, training=True) if cls is VectorQuantizer else None
    if cls is VectorQuantizer:
        np.testing.assert_array_equal(codebook, vq.codebook.numpy())


def test_kmeans_init_seeds_the_ema_so_the_next_update_keeps_it():
    vq = make(k=8, kmeans_init=True, seed=2, decay=0.99)
    vq(clustered(512), training=True)
    vq(clustered(512), training=True)
    dist = np.linalg.norm(CENTERS[:, None] - vq.codebook.numpy()[None], axis=-1).min(axis=1)
    assert np.all(dist < 0.1), dist
