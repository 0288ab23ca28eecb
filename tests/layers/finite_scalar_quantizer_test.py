import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.harness import run_model_saving_test
from tests.harness import run_serialization_test
from vq_zoo.layers.finite_scalar_quantizer import FSQ_LEVEL_PRESETS
from vq_zoo.layers.finite_scalar_quantizer import FiniteScalarQuantizer

RNG = np.random.default_rng(22)


def bound_reference(z, levels, eps=1e-3):
    """The paper's bound (appendix A.1's code), float64."""
    levels = np.asarray(levels, np.float64)
    half_l = (levels - 1) * (1 - eps) / 2
    offset = np.where(levels % 2 == 0, 0.5, 0.0)
    shift = np.tan(offset / half_l)
    return np.tanh(z + shift) * half_l - offset


def implied_codebook(levels):
    """Every grid point, index order: first channel least significant
    (itertools.product varies its last factor fastest, so enumerate the
    channels reversed)."""
    axes = [(np.arange(L) - L // 2) / (L // 2) for L in levels]
    points = [p[::-1] for p in itertools.product(*axes[::-1])]
    return np.asarray(points, np.float64)


def reference(z, levels):
    """Nearest grid point to the bounded, normalised input: a search over
    the explicit implied codebook (no rounding formula)."""
    half = np.asarray([L // 2 for L in levels], np.float64)
    target = bound_reference(z.astype(np.float64), levels) / half
    grid = implied_codebook(levels)
    flat = target.reshape(-1, len(levels))
    idx = ((flat[:, None] - grid[None]) ** 2).sum(-1).argmin(1)
    return idx.reshape(z.shape[:-1]), grid[idx].reshape(z.shape)


@pytest.mark.parametrize("levels", [(8, 5, 5, 5), (8, 6, 5), (3, 4), (2, 2, 2)])
def test_matches_nearest_point_of_the_implied_codebook(levels):
    fsq = FiniteScalarQuantizer(levels)
    z = (2.0 * RNG.normal(size=(4, 6, 5, len(levels)))).astype("float32")
    out = fsq(z)
    idx, values = reference(z, levels)
    np.testing.assert_array_equal(out["encoding_indices"], idx)
    np.testing.assert_allclose(out["quantized"], values, atol=1e-6)
    np.testing.assert_array_equal(fsq.encode(z), idx)
    np.testing.assert_allclose(fsq.lookup(idx), values, atol=1e-6)
    np.testing.assert_allclose(fsq.implied_codebook, implied_codebook(levels), atol=1e-6)
    counts = np.bincount(idx.ravel(), minlength=fsq.num_embeddings)
    np.testing.assert_array_equal(out["code_counts"], counts)
    p = counts / counts.sum()
    np.testing.assert_allclose(out["perplexity"], np.exp(-(p * np.log(p + 1e-10)).sum()), rtol=1e-5)
    assert float(out["loss"]) == 0.0 and out["encoding_indices"].dtype == tf.int32


def uniform_inputs(levels, n, eps=1e-3):
    """Inputs whose bounded values are uniform over the bound's range
    (the pre-image of uniform values under tanh)."""
    levels = np.asarray(levels, np.float64)
    half_l = (levels - 1) * (1 - eps) / 2
    offset = np.where(levels % 2 == 0, 0.5, 0.0)
    u = RNG.uniform(-0.999, 0.999, size=(n, len(levels)))
    return (np.arctanh(u) - np.tan(offset / half_l)).astype("float32")


@pytest.mark.parametrize("levels", [(8, 5, 5, 5), (8, 6, 5)])
def test_implied_codebook_fully_used_on_uniform_inputs(levels):
    fsq = FiniteScalarQuantizer(levels)
    out = fsq(uniform_inputs(levels, 100_000)[:, None, :])
    assert int(np.sum(np.asarray(out["code_counts"]) > 0)) == int(np.prod(levels))


def test_float32_quantisation_and_full_usage_under_mixed_bfloat16():
    levels = (8, 5, 5, 5)
    x = uniform_inputs(levels, 100_000)[:, None, :]
    ref = FiniteScalarQuantizer(levels)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fsq = FiniteScalarQuantizer(levels)
        x_low = keras.ops.cast(x, "bfloat16")
        out = fsq(x_low)
    finally:
        keras.config.set_dtype_policy("float32")
    assert out["quantized"].dtype == "bfloat16"
    # The same codes as float32 quantisation of the same (bfloat16) inputs,
    # and all 1000 of them reached (vector-quantize-pytorch issue 114
    # reports about half under bfloat16).
    ref_out = ref(keras.ops.cast(x_low, "float32"))
    np.testing.assert_array_equal(out["encoding_indices"], ref_out["encoding_indices"])
    assert int(np.sum(np.asarray(out["code_counts"]) > 0)) == 1000


def test_rounding_has_straight_through_gradient():
    levels = (8, 5, 5, 5)
    fsq = FiniteScalarQuantizer(levels)
    z = tf.constant(RNG.normal(size=(64, 4)).astype("float32"))
    w = tf.constant(RNG.normal(size=(64, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = tf.reduce_sum(fsq(z, training=True)["quantized"] * w)
    grad = tape.gradient(y, z).numpy()
    # The derivative of the continuous (unrounded) map bound(z) / (L // 2),
    # by central finite differences in float64.
    half = np.array([L // 2 for L in levels], np.float64)
    z64, h = z.numpy().astype(np.float64), 1e-6
    slope = (bound_reference(z64 + h, levels) - bound_reference(z64 - h, levels)) / (2 * h) / half
    np.testing.assert_allclose(grad, w.numpy() * slope, rtol=1e-4, atol=1e-6)


def test_table_1_presets():
    # Table 1 of arXiv 2309.15505 targets 2^8 ... 2^16 codes.
    for name, levels in FSQ_LEVEL_PRESETS.items():
        target = 2 ** int(name[2:])
        size = FiniteScalarQuantizer(name).num_embeddings
        assert size == np.prod(levels) and 0.9 * target <= size <= 1.1 * target
    assert FiniteScalarQuantizer("2^10").levels == (8, 5, 5, 5)
    assert FiniteScalarQuantizer(1024).levels == (8, 5, 5, 5)
    assert FiniteScalarQuantizer("8,6,5").levels == (8, 6, 5)


def test_projection_to_any_embedding_dim():
    fsq = FiniteScalarQuantizer((8, 5, 5, 5), embedding_dim=16)
    x = RNG.normal(size=(3, 7, 16)).astype("float32")
    out = fsq(x)
    w_in, b_in = [v.numpy() for v in fsq.project_in.weights]
    w_out, b_out = [v.numpy() for v in fsq.project_out.weights]
    idx, values = reference(x @ w_in + b_in, (8, 5, 5, 5))
    np.testing.assert_array_equal(out["encoding_indices"], idx)
    np.testing.assert_allclose(out["quantized"], values @ w_out + b_out, atol=1e-5)
    np.testing.assert_allclose(fsq.lookup(idx), out["quantized"], atol=1e-5)
    assert fsq.codebook.shape == (1000, 16)
    assert (len(fsq.trainable_weights), len(fsq.non_trainable_weights)) == (4, 0)
    plain = FiniteScalarQuantizer((8, 5, 5, 5))
    plain.build((None, 4))
    assert (len(plain.trainable_weights), len(plain.non_trainable_weights)) == (0, 0)


def test_fit_step_trains_the_projections():
    fsq = FiniteScalarQuantizer((5, 5, 5), embedding_dim=6)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, fsq(inputs)["quantized"])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.trainable_weights]
    x = RNG.normal(size=(32, 6)).astype("float32")
    model.fit(x, x, epochs=1, batch_size=32, verbose=0)
    assert all(np.abs(a - w.numpy()).max() > 1e-5 for a, w in zip(before, model.trainable_weights))


def test_config_round_trip():
    fsq = FiniteScalarQuantizer((8, 6, 5), embedding_dim=12, epsilon=1e-2, name="q")
    assert run_serialization_test(fsq).levels == (8, 6, 5)


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, FiniteScalarQuantizer((8, 5, 5, 5), embedding_dim=8)(inputs)["quantized"])
    x = RNG.normal(size=(3, 5, 8)).astype("float32")
    run_model_saving_test(model, x, tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(levels=(8, 1)), "integers >= 2"),
        (dict(levels=()), "non-empty"),
        (dict(levels="2^11"), "one of the presets 2\\^8"),
        (dict(levels="8,x"), "separated by commas"),
        (dict(levels=(4, 4), epsilon=0.0), "`epsilon` must be in \\(0, 1\\)"),
        (dict(levels=(4, 4), embedding_dim=0), "embedding_dim` must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FiniteScalarQuantizer(**kwargs)


def test_bad_inputs_are_refused():
    fsq = FiniteScalarQuantizer((8, 5, 5, 5))
    with pytest.raises(ValueError, match="embedding_dim`=4.*last axis 3"):
        fsq(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="^FiniteScalarQuantizer expects floating-point"):
        fsq(np.zeros((2, 4), "int32"))
    with pytest.raises(ValueError, match=r"\[0, num_embeddings=1000\).*max 1000"):
        fsq.lookup(np.array([0, 1000]))
