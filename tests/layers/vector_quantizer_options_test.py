"""The VQ layers' options: rotation_trick, use_cosine_similarity,
codebook_dim (off by default; the default layer is tested in
vector_quantizer_test.py and vector_quantizer_ema_test.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from tests.layers.numpy_reference import quantize_reference
from vq_zoo.layers.vector_quantizer import VectorQuantizer
from vq_zoo.layers.vector_quantizer_ema import VectorQuantizerEMA

RNG = np.random.default_rng(25)


def make(cls=VectorQuantizer, d=6, k=20, **kwargs):
    layer = cls(embedding_dim=d, num_embeddings=k, **kwargs)
    layer.build((None, d))
    code_dim = kwargs.get("codebook_dim") or d
    layer.codebook.assign(RNG.normal(size=(k, code_dim)).astype("float32"))
    return layer


def rotation_reference(e, q):
    """The rotation taking e/|e| to q/|q| in their plane, built from the
    angle between them (Rodrigues' form, not the paper's Householder form),
    times |q| / |e|."""
    d = len(e)
    u = e / np.linalg.norm(e)
    w = q / np.linalg.norm(q) - u @ (q / np.linalg.norm(q)) * u
    v = w / np.linalg.norm(w)
    cos = u @ (q / np.linalg.norm(q))
    sin = np.sqrt(max(1 - cos ** 2, 0.0))
    rotation = (np.eye(d) + sin * (np.outer(v, u) - np.outer(u, v))
                + (cos - 1) * (np.outer(u, u) + np.outer(v, v)))
    return np.linalg.norm(q) / np.linalg.norm(e) * rotation


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_rotation_trick_forward_equals_plain_vq(cls):
    plain, rotated = make(cls), make(cls, rotation_trick=True)
    rotated.codebook.assign(plain.codebook.numpy())
    x = RNG.normal(size=(4, 5, 6)).astype("float32")
    a, b = plain(x, training=False), rotated(x, training=False)
    for key in ("quantized", "encoding_indices", "loss", "commitment_loss", "perplexity"):
        np.testing.assert_array_equal(a[key], b[key])


def test_rotation_trick_gradient_is_the_rotated_upstream_gradient():
    vq = make(rotation_trick=True, commitment_cost=0.0)
    x = tf.constant(RNG.normal(size=(16, 6)).astype("float32"))
    g = tf.constant(RNG.normal(size=(16, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = vq(x, training=True)
        y = tf.reduce_sum(out["quantized"] * g)
    grad = tape.gradient(y, x).numpy()
    codes = vq.codebook.numpy()[out["encoding_indices"].numpy()]
    for e, q, up, got in zip(x.numpy().astype(np.float64), codes, g.numpy(), grad):
        r = rotation_reference(e, q)
        np.testing.assert_allclose(r @ e, q, atol=1e-6)  # the reference maps e to q
        np.testing.assert_allclose(got, r.T @ up, rtol=1e-4, atol=1e-5)
    # Not the straight-through gradient.
    assert np.abs(grad - g.numpy()).max() > 1e-2


def test_rotation_trick_keeps_the_codebook_and_commitment_gradients():
    plain, rotated = make(), make(rotation_trick=True)
    rotated.codebook.assign(plain.codebook.numpy())
    x = tf.constant(RNG.normal(size=(16, 6)).astype("float32"))
    grads = []
    for vq in (plain, rotated):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            out = vq(x, training=True)
        grads.append((tf.convert_to_tensor(tape.gradient(out["codebook_loss"], vq.codebook)),
                      tape.gradient(out["commitment_loss"], x)))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-6)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_cosine_similarity_picks_the_most_similar_unit_code(cls):
    vq = make(cls, use_cosine_similarity=True)
    x = RNG.normal(size=(3, 7, 6)).astype("float32")
    out = vq(x, training=False)
    codebook = vq.codebook.numpy().astype(np.float64)
    unit = codebook / np.linalg.norm(codebook, axis=1, keepdims=True)
    flat = x.reshape(-1, 6)
    idx = (flat @ unit.T / np.linalg.norm(flat, axis=1, keepdims=True)).argmax(1)
    np.testing.assert_array_equal(out["encoding_indices"], idx.reshape(3, 7))
    np.testing.assert_allclose(out["quantized"], unit[idx].reshape(x.shape), atol=1e-6)
    np.testing.assert_allclose(vq.lookup(idx), unit[idx], atol=1e-6)
    xn = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    np.testing.assert_allclose(out["commitment_loss"], 0.25 * np.mean((xn - unit[idx]) ** 2),
                               rtol=1e-5)


def test_cosine_ema_update_averages_unit_vectors():
    vq = make(VectorQuantizerEMA, use_cosine_similarity=True, decay=0.0, epsilon=1e-8)
    x = (RNG.normal(size=(64, 6)) * RNG.uniform(0.1, 10, size=(64, 1))).astype("float32")
    idx = vq.encode(x).numpy()
    vq(x, training=True)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    for k in np.unique(idx):
        np.testing.assert_allclose(vq.codebook.numpy()[k], xn[idx == k].mean(0), atol=1e-4)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_low_dimensional_codebook_is_projected_in_and_out(cls):
    vq = make(cls, d=12, codebook_dim=3)
    x = RNG.normal(size=(4, 5, 12)).astype("float32")
    out = vq(x, training=False)
    w_in, b_in = [v.numpy() for v in vq.project_in.weights]
    w_out, b_out = [v.numpy() for v in vq.project_out.weights]
    projected = x @ w_in + b_in
    ref = quantize_reference(projected, vq.codebook.numpy(), 0.25)
    np.testing.assert_array_equal(out["encoding_indices"], ref["encoding_indices"])
    np.testing.assert_allclose(out["quantized"], ref["quantized"] @ w_out + b_out, atol=1e-5)
    np.testing.assert_allclose(out["commitment_loss"], ref["commitment_loss"], rtol=1e-5)
    np.testing.assert_allclose(vq.lookup(ref["encoding_indices"]), out["quantized"], atol=1e-5)
    assert vq.codebook.shape == (20, 3)


def test_weight_counts_with_options():
    assert (len(make(codebook_dim=3).trainable_weights),
            len(make(codebook_dim=3).non_trainable_weights)) == (5, 0)
    ema = make(VectorQuantizerEMA, codebook_dim=3, use_cosine_similarity=True)
    assert (len(ema.trainable_weights), len(ema.non_trainable_weights)) == (4, 4)
    assert ema.ema_dw_hidden.shape == (20, 3)
    # codebook_dim equal to embedding_dim projects nothing.
    assert len(make(codebook_dim=6).weights) == 1


def test_projections_compute_in_float32_under_mixed_bfloat16():
    x = RNG.normal(size=(64, 12)).astype("float32")
    ref = make(VectorQuantizerEMA, d=12, codebook_dim=4)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        vq = make(VectorQuantizerEMA, d=12, codebook_dim=4)
    finally:
        keras.config.set_dtype_policy("float32")
    for a, b in zip(ref.weights, vq.weights):
        b.assign(a.numpy())
    x_low = keras.ops.cast(x, "bfloat16")
    out = vq(x_low, training=True)
    ref_out = ref(keras.ops.cast(x_low, "float32"), training=True)
    assert out["quantized"].dtype == "bfloat16" and vq.project_in.compute_dtype == "float32"
    np.testing.assert_array_equal(out["encoding_indices"], ref_out["encoding_indices"])
    np.testing.assert_allclose(vq.codebook.numpy(), ref.codebook.numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_config_and_keras_file_round_trip_with_options(cls, tmp_path):
    layer = cls(embedding_dim=8, num_embeddings=9, rotation_trick=True,
                use_cosine_similarity=True, codebook_dim=4, name="q")
    run_serialization_test(layer)
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layer(inputs)["quantized"])
    x = RNG.normal(size=(3, 5, 8)).astype("float32")
    layer(x, training=True)
    run_model_saving_test(model, x, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(rotation_trick=1), "`rotation_trick` must be True or False"),
        (dict(use_cosine_similarity="yes"), "`use_cosine_similarity` must be True or False"),
        (dict(codebook_dim=0), "`codebook_dim` must be an integer >= 1"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(embedding_dim=4, num_embeddings=8, **kwargs)
