import numpy as np
import keras
import pytest

from tests.harness import run_serialization_test
from vq_zoo.layers.causal_self_attention import CausalSelfAttention

T, C = 7, 6


def numpy_attention(layer, x):
    """Masked multi-head attention written from the definition (float64)."""

    def dense(d, v):
        return v @ np.asarray(d.kernel, "float64") + np.asarray(d.bias, "float64")

    heads, dk = layer.num_heads, layer.key_dim
    dv = layer.value_dim or dk
    x = x.astype("float64")
    n, t = x.shape[:2]
    q = dense(layer.query_dense, x).reshape(n, t, heads, dk)
    k = dense(layer.key_dense, x).reshape(n, t, heads, dk)
    v = dense(layer.value_dense, x).reshape(n, t, heads, dv)
    out = np.zeros((n, t, heads, dv))
    for s in range(t):
        logits = np.einsum("nhd,nthd->nht", q[:, s], k[:, : s + 1]) / np.sqrt(dk)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        out[:, s] = np.einsum("nht,nthd->nhd", p, v[:, : s + 1])
    return dense(layer.output_dense, out.reshape(n, t, heads * dv))


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_matches_numpy_reference():
    layer = CausalSelfAttention(num_heads=3, key_dim=4, value_dim=5)
    x = random((2, T, C))
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, numpy_attention(layer, x), rtol=1e-4, atol=1e-5)
    assert out.shape == (2, T, C)


def test_position_sees_itself_and_earlier_positions_only():
    layer = CausalSelfAttention(num_heads=2, key_dim=4)
    x = random((1, T, C))
    base = np.asarray(layer(x))[0]
    for p in range(T):
        x2 = x.copy()
        x2[0, p] += 3.0
        changed = np.abs(np.asarray(layer(x2))[0] - base).max(axis=-1) > 1e-6
        assert changed.nonzero()[0].tolist() == list(range(p, T)), p


def test_maps_attend_in_raster_order():
    layer = CausalSelfAttention(num_heads=2, key_dim=3, output_dim=5)
    x = random((2, 3, 4, C), seed=1)
    out = np.asarray(layer(x))
    flat = np.asarray(layer(x.reshape(2, 12, C)))
    assert out.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(out.reshape(2, 12, 5), flat)


@pytest.mark.parametrize("policy,tol", [("float32", 1e-6), ("mixed_bfloat16", 3e-2)])
def test_stepping_with_the_cache_equals_the_full_pass(policy, tol):
    layer = CausalSelfAttention(num_heads=2, key_dim=4, dropout=0.3, dtype=policy)
    x = random((3, T, C), seed=2)
    full = np.asarray(layer(x), "float32")
    state = layer.initial_state(3, max_length=T + 2)  # room to spare
    assert tuple(state["key"].shape) == (3, T + 2, 2, 4)
    steps = []
    for t in range(T):
        out, state = layer.step(x[:, t], state, t)
        steps.append(np.asarray(out, "float32"))
    np.testing.assert_allclose(np.stack(steps, 1), full, rtol=tol, atol=tol)


def test_dropout_acts_on_the_attention_in_training_only():
    layer = CausalSelfAttention(num_heads=2, key_dim=4, dropout=0.5)
    x = random((2, T, C), seed=3)
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), inference)
    trained = np.asarray(layer(x, training=True))
    assert np.abs(trained - inference).max() > 1e-3


def test_config_saving_fit_and_weights(tmp_path):
    layer = CausalSelfAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, name="att")
    run_serialization_test(layer)
    inputs = keras.Input((T, C))
    model = keras.Model(inputs, inputs + layer(inputs))
    # Query, key, value and output projections, each a kernel and a bias.
    assert len(layer.trainable_weights) == 8 and not layer.non_trainable_weights
    shapes = sorted(tuple(w.shape) for w in layer.trainable_weights)
    assert shapes == sorted([(C, 6), (6,), (C, 6), (6,), (C, 8), (8,), (8, C), (C,)])
    x = random((4, T, C), seed=4)
    model.compile(optimizer="sgd", loss="mse")
    before = [np.asarray(w) for w in layer.trainable_weights]
    model.fit(x, np.zeros_like(x), epochs=1, verbose=0)
    assert all(
        not np.array_equal(b, np.asarray(w)) for b, w in zip(before, layer.trainable_weights)
    )
    path = str(tmp_path / "att.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(model(x)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_heads=0, key_dim=4), "num_heads"),
        (dict(num_heads=2, key_dim=None), "key_dim"),
        (dict(num_heads=2, key_dim=4, value_dim=0), "value_dim"),
        (dict(num_heads=2, key_dim=4, dropout=1.0), "dropout"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CausalSelfAttention(**kwargs)


def test_bad_inputs():
    layer = CausalSelfAttention(num_heads=2, key_dim=4)
    with pytest.raises(ValueError, match=r"\(batch, time, channels\) or"):
        layer(np.zeros((2, C), "float32"))
    layer(np.zeros((2, T, C), "float32"))
    state = layer.initial_state(2, T)
    with pytest.raises(ValueError, match=r"one position, \(batch, channels\)"):
        layer.step(np.zeros((2, 1, C), "float32"), state, 0)
    with pytest.raises(ValueError, match="max_length"):
        layer.initial_state(2, 0)


def test_step_before_any_call_builds_the_layer_and_keeps_it_usable():
    """Stepping a layer never called builds it (it raised TypeError and left
    half-built sublayers); stepped outputs then equal the full pass."""
    layer = CausalSelfAttention(num_heads=2, key_dim=3, output_dim=5)
    x = keras.random.normal((2, 4, 6), seed=1)
    state = layer.initial_state(2, max_length=4)
    stepped = []
    for t in range(4):
        out, state = layer.step(x[:, t], state, t)
        stepped.append(np.asarray(out))
    assert layer.built and len(layer.trainable_weights) == 8
    full = np.asarray(layer(x))
    np.testing.assert_allclose(np.stack(stepped, 1), full, atol=1e-5)
